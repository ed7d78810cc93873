using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.TreatmentPlans;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.TreatmentPlans;

/// <summary>PATCH /api/treatment-plans/{id} (<see cref="UpdateTreatmentPlan"/>).</summary>
public sealed class UpdateTreatmentPlanTests(AppFixture app) : ClinicalTest(app)
{
    [Fact]
    public async Task Replaces_items_and_changes_fields_auditing_names_only()
    {
        var admin = await RegisterClinicAsync();
        var plan = await CreatePlanAsync(admin, await CreatePatientAsync(admin), items: Items(100, 200, 300));

        var updated = await PatchAsync(admin, plan.Id, new { title = "Secret title", notes = "", items = new[] { new Item("Only", null, 48, 3, 1_001) } });

        Assert.Equal(("Secret title", null, 3_003L), (updated.Title, updated.Notes, updated.TotalCents));
        Assert.Equal("Only", Assert.Single(updated.Items).Description);
        Assert.Equal(1, await App.ScalarAsync<int>("select count(*)::int from treatment_plan_items where plan_id = @Id", new { plan.Id }));
        Assert.Equal(3_003L, await App.ScalarAsync<long>("select total_cents from treatment_plan_summaries where id = @Id", new { plan.Id }));
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "treatment_plan.update");
        Assert.Contains("\"title\"", audit!.Changes, StringComparison.Ordinal);
        Assert.Contains("\"notes\"", audit.Changes, StringComparison.Ordinal);
        Assert.Contains("\"items\"", audit.Changes, StringComparison.Ordinal);
        Assert.DoesNotContain("Secret", audit.Changes, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Walks_the_status_machine_and_stamps_acceptance()
    {
        var admin = await RegisterClinicAsync();
        var plan = await CreatePlanAsync(admin, await CreatePatientAsync(admin));

        foreach (var status in new[] { "proposed", "accepted", "in_progress", "completed" })
        {
            Assert.Equal(status, (await PatchAsync(admin, plan.Id, new { status })).Status);
        }

        Assert.NotNull(await App.ScalarAsync<DateTime?>("select accepted_at from treatment_plans where id = @Id", new { plan.Id }));
        Assert.NotNull(await App.ScalarAsync<DateTime?>("select completed_at from treatment_plans where id = @Id", new { plan.Id }));
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "treatment_plan.status");
        Assert.Contains("\"to\": \"completed\"", audit!.Changes, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("draft", "accepted")]
    [InlineData("draft", "completed")]
    [InlineData("proposed", "in_progress")]
    [InlineData("accepted", "proposed")]
    [InlineData("completed", "cancelled")]
    [InlineData("cancelled", "draft")]
    public async Task Refuses_moves_outside_the_machine_with_409(string from, string to)
    {
        var admin = await RegisterClinicAsync();
        var plan = await CreatePlanAsync(admin, await CreatePatientAsync(admin));
        await App.ExecuteAsync("update treatment_plans set status = @from where id = @Id", new { from, plan.Id });

        var result = await Host.Scenario(s =>
        {
            s.Patch.Json(new { status = to }).ToUrl($"/api/treatment-plans/{plan.Id}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Conflict);
        });

        await ErrorAsync(result, ErrorCodes.InvalidState);
        Assert.Equal(from, await App.ScalarAsync<string>("select status from treatment_plans where id = @Id", new { plan.Id }));
    }

    [Theory]
    [InlineData("draft")]
    [InlineData("proposed")]
    [InlineData("accepted")]
    [InlineData("in_progress")]
    public async Task Cancels_from_any_open_state(string from)
    {
        var admin = await RegisterClinicAsync();
        var plan = await CreatePlanAsync(admin, await CreatePatientAsync(admin));
        await App.ExecuteAsync("update treatment_plans set status = @from where id = @Id", new { from, plan.Id });

        Assert.Equal("cancelled", (await PatchAsync(admin, plan.Id, new { status = "cancelled" })).Status);
        Assert.NotNull(await App.ScalarAsync<DateTime?>("select cancelled_at from treatment_plans where id = @Id", new { plan.Id }));
    }

    [Fact]
    public async Task Keeps_the_items_of_a_completed_plan()
    {
        var admin = await RegisterClinicAsync();
        var plan = await CreatePlanAsync(admin, await CreatePatientAsync(admin));
        await App.ExecuteAsync("update treatment_plans set status = 'completed' where id = @Id", new { plan.Id });

        var result = await Host.Scenario(s =>
        {
            s.Patch.Json(new { items = Items(1) }).ToUrl($"/api/treatment-plans/{plan.Id}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Conflict);
        });

        await ErrorAsync(result, ErrorCodes.InvalidState);
    }

    [Fact]
    public async Task Writes_no_audit_entry_when_nothing_changes()
    {
        var admin = await RegisterClinicAsync();
        var plan = await CreatePlanAsync(admin, await CreatePatientAsync(admin), items: Items(10_000), title: "Plan");

        await PatchAsync(admin, plan.Id, new { title = "Plan", status = "draft", items = Items(10_000) });

        Assert.Null(await LastAuditAsync(admin.ClinicId!.Value, "treatment_plan.update"));
        Assert.Null(await LastAuditAsync(admin.ClinicId!.Value, "treatment_plan.status"));
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Patch.Json(new { title = "x" }).ToUrl($"/api/treatment-plans/{Guid.NewGuid()}"));
    }

    [Fact]
    public async Task Refuses_reception_staff()
    {
        await AssertRefusedForRoleAsync("staff", s => s.Patch.Json(new { title = "x" }).ToUrl($"/api/treatment-plans/{Guid.NewGuid()}"));
    }

    [Fact]
    public async Task Answers_404_for_another_clinics_plan()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync();
        var plan = await CreatePlanAsync(other, await CreatePatientAsync(other));

        var result = await Host.Scenario(s =>
        {
            s.Patch.Json(new { title = "Mine now" }).ToUrl($"/api/treatment-plans/{plan.Id}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NotFound);
        });

        await ErrorAsync(result, ErrorCodes.NotFound);
        Assert.Equal("Plan", await App.ScalarAsync<string>("select title from treatment_plans where id = @Id", new { plan.Id }));
    }

    [Fact]
    public async Task Rejects_bad_input_with_details()
    {
        var admin = await RegisterClinicAsync();
        var plan = await CreatePlanAsync(admin, await CreatePatientAsync(admin));

        var error = await AssertInvalidAsync("status", s =>
        {
            s.Patch.Json(new { status = "done", title = "", items = new[] { new Item("x", null, 90, 1, 1) } }).ToUrl($"/api/treatment-plans/{plan.Id}");
            s.WithBearerToken(admin.Token);
        });
        Assert.Contains("title", error.Details!.Keys);
        Assert.Contains("items[0].tooth", error.Details.Keys);
    }

    private async Task<UpdateTreatmentPlan.Response> PatchAsync(Account account, Guid id, object body)
    {
        var result = await Host.Scenario(s =>
        {
            s.Patch.Json(body).ToUrl($"/api/treatment-plans/{id}");
            s.WithBearerToken(account.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        return await BodyAsync<UpdateTreatmentPlan.Response>(result);
    }
}
