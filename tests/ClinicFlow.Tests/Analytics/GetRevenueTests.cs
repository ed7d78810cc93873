using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Analytics;
using ClinicFlow.Tests.Dental;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Analytics;

/// <summary>GET /api/analytics/revenue (<see cref="GetRevenue"/>).</summary>
public sealed class GetRevenueTests(AppFixture app) : ClinicalTest(app)
{
    [Fact]
    public async Task Matches_a_hand_computed_clinic_by_local_month()
    {
        var admin = await RegisterClinicInZoneAsync("Europe/Berlin", "DE");
        var patient = await CreatePatientAsync(admin);
        // X: 1 000.00 accepted 2026-10-31 23:30 UTC = 1 November 00:30 CET → November.
        var x = await AcceptedPlanAsync(admin, patient, 100_000);
        await AcceptedAtAsync(x.Id, "2026-10-31T23:30:00Z");
        var schedule = await PaymentSteps.CreateAsync(Host, admin, x.Id, 3, new DateOnly(2026, 10, 15)); // due 10-15, 11-14, 12-14
        // 400.00 paid 2026-10-31 22:30 UTC = 23:30 CET → October; pays #1 (333.34) and 66.66 of #2.
        await Host.Scenario(s =>
        {
            s.Post.Json(new { amountCents = 40_000, paidAt = "2026-10-31T22:30:00Z", method = "card" }).ToUrl($"/api/dental/payment-plans/{schedule.Id}/payments");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        // Y: 200.00 accepted in October, no payment plan.
        var y = await AcceptedPlanAsync(admin, patient, 20_000);
        await AcceptedAtAsync(y.Id, "2026-10-10T10:00:00Z");
        // Z: accepted in October, then cancelled: not revenue. W: a draft: not revenue.
        var z = await AcceptedPlanAsync(admin, patient, 70_000);
        await AcceptedAtAsync(z.Id, "2026-10-12T10:00:00Z");
        await App.ExecuteAsync("update treatment_plans set status = 'cancelled' where id = @Id", new { z.Id });
        await CreatePlanAsync(admin, patient, items: Items(55_555));
        // Another clinic's revenue never shows.
        var other = await RegisterClinicInZoneAsync("Europe/Berlin", "DE");
        var theirs = await AcceptedPlanAsync(other, await CreatePatientAsync(other), 999_999);
        await AcceptedAtAsync(theirs.Id, "2026-10-20T10:00:00Z");

        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/analytics/revenue?from=2026-10-01&to=2026-11-30");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        var revenue = await BodyAsync<GetRevenue.Response>(result);
        Assert.Equal(
            [
                new GetRevenue.Month("2026-10", 20_000, 1, 40_000, 1, 33_334, 0),
                new GetRevenue.Month("2026-11", 100_000, 1, 0, 0, 33_333, 26_667),
            ],
            revenue.Months);
        Assert.Equal((120_000L, 40_000L), (revenue.AcceptedCents, revenue.ReceivedCents));
        Assert.Equal(100_000 - 40_000 + 20_000, revenue.OutstandingCents);
        var today = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(DateTimeOffset.UtcNow, TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin")).DateTime);
        var overdue = (today > new DateOnly(2026, 11, 14) ? 26_667 : 0) + (today > new DateOnly(2026, 12, 14) ? 33_333 : 0);
        Assert.Equal(overdue, revenue.OverdueCents);
        Assert.Equal("EUR", revenue.Currency);
    }

    [Fact]
    public async Task Refuses_non_admins()
    {
        await AssertRefusedForRoleAsync("doctor", s => s.Get.Url("/api/analytics/revenue"));
    }

    [Fact]
    public async Task Needs_a_pro_plan()
    {
        await AssertNeedsProPlanAsync((_, _) => s => s.Get.Url("/api/analytics/revenue"));
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Get.Url("/api/analytics/revenue"));
    }

    [Fact]
    public async Task Rejects_a_window_ending_before_it_starts()
    {
        var admin = await RegisterClinicAsync();

        await AssertInvalidAsync("to", s =>
        {
            s.Get.Url("/api/analytics/revenue?from=2026-10-01&to=2026-09-01");
            s.WithBearerToken(admin.Token);
        });
    }

    private Task AcceptedAtAsync(Guid id, string at) =>
        App.ExecuteAsync("update treatment_plans set accepted_at = @at::timestamptz where id = @id", new { id, at });
}
