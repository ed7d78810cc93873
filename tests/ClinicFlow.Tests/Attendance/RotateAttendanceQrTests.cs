using System.Net;
using System.Text.Json;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Attendance;
using ClinicFlow.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace ClinicFlow.Tests.Attendance;

public sealed class RotateAttendanceQrTests(AppFixture app) : SchedulingTest(app)
{
    private const string Path = "/api/clinics/current/attendance-qr";

    private sealed record TokenRow(Guid Id, string TokenSealed, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt);

    private Task<IReadOnlyList<TokenRow>> TokensAsync(Guid? clinicId) =>
        App.QueryAsync<TokenRow>(
            "select id, token_sealed, created_at, revoked_at from attendance_tokens where clinic_id = @clinicId order by created_at, id",
            new { clinicId });

    private string Open(Guid? clinicId, TokenRow row) =>
        Host.Services.GetRequiredService<SecretBox>().Open(row.TokenSealed, $"attendance:{clinicId}:{row.Id}")
        ?? throw new InvalidOperationException("The sealed token does not open.");

    private async Task<RotateAttendanceQr.Response> RotateAsync(Account admin)
    {
        var result = await Host.Scenario(s =>
        {
            s.Post.Url(Path + "/rotate");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        return await result.ReadAsJsonAsync<RotateAttendanceQr.Response>();
    }

    private Task<IScenarioResult> CheckInAsync(string token, string phone, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            s.Post.Json(new { phone }).ToUrl($"/api/attendance/check-in/{token}");
            s.StatusCodeShouldBe(expected);
        });

    [Fact]
    public async Task Revokes_the_old_token_so_its_qr_answers_410_and_the_new_one_checks_in()
    {
        // A zone where it is about noon now, so "now ± 1 minute" is today there.
        var offset = 12 - DateTimeOffset.UtcNow.Hour;
        var admin = await RegisterClinicInZoneAsync(offset switch { > 0 => $"Etc/GMT-{offset}", < 0 => $"Etc/GMT+{-offset}", _ => "UTC" });
        await Host.Scenario(s =>
        {
            s.Get.Url(Path);
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        var old = Assert.Single(await TokensAsync(admin.ClinicId));
        var oldToken = Open(admin.ClinicId, old);

        var rotated = await RotateAsync(admin);

        var rows = await TokensAsync(admin.ClinicId);
        Assert.Equal(2, rows.Count);
        Assert.NotNull(rows.Single(r => r.Id == old.Id).RevokedAt);
        var current = rows.Single(r => r.Id != old.Id);
        Assert.Null(current.RevokedAt);
        var newToken = Open(admin.ClinicId, current);
        Assert.NotEqual(oldToken, newToken);
        Assert.Equal($"{AppFixture.PublicBaseUrl}/check-in/{newToken}", rotated.Url);
        Assert.Equal(current.CreatedAt, rotated.CreatedAt);

        var audit = await LastAuditAsync(admin.ClinicId!.Value, "attendance_qr.rotate");
        Assert.NotNull(audit);
        Assert.Equal(current.Id.ToString(), audit.EntityId);
        Assert.Equal(admin.UserId, audit.ActorId);
        using (var changes = JsonDocument.Parse(audit.Changes))
        {
            Assert.Equal([old.Id], changes.RootElement.GetProperty("revoked").EnumerateArray().Select(e => e.GetGuid()));
        }

        Assert.DoesNotContain(newToken, audit.Changes, StringComparison.Ordinal);

        var revoked = await CheckInAsync(oldToken, "+5491122334455", HttpStatusCode.Gone);
        await ErrorAsync(revoked, ErrorCodes.LinkRevoked);

        var doctorId = await InsertDoctorAsync(admin.ClinicId, "Dra. Rotada");
        var patientId = await CreatePatientAsync(admin, phone: "+5491122334455");
        var now = DateTimeOffset.UtcNow;
        var appointmentId = await InsertAppointmentAsync(admin.ClinicId, doctorId, patientId, now.AddMinutes(-1), now.AddMinutes(1));
        var checkedIn = await (await CheckInAsync(newToken, "+5491122334455", HttpStatusCode.OK)).ReadAsJsonAsync<CheckIn.Response>();
        Assert.Equal(appointmentId, checkedIn.AppointmentId);
    }

    [Fact]
    public async Task Rotating_a_clinic_without_a_token_issues_its_first()
    {
        var admin = await RegisterClinicAsync();

        var rotated = await RotateAsync(admin);

        var row = Assert.Single(await TokensAsync(admin.ClinicId));
        Assert.Null(row.RevokedAt);
        Assert.Equal($"{AppFixture.PublicBaseUrl}/check-in/{Open(admin.ClinicId, row)}", rotated.Url);
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "attendance_qr.rotate");
        Assert.NotNull(audit);
        Assert.Contains("\"revoked\":[]", audit.Changes.Replace(" ", "", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Concurrent_rotations_leave_exactly_one_active_token()
    {
        var admin = await RegisterClinicAsync();

        var answers = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => RotateAsync(admin)));

        var rows = await TokensAsync(admin.ClinicId);
        var active = Assert.Single(rows, r => r.RevokedAt is null);
        Assert.Equal(4, rows.Count);
        Assert.Contains($"{AppFixture.PublicBaseUrl}/check-in/{Open(admin.ClinicId, active)}", answers.Select(a => a.Url));
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Post.Url(Path + "/rotate"));
    }

    [Theory]
    [InlineData("staff")]
    [InlineData("doctor")]
    public async Task Refuses_non_admins(string role)
    {
        await AssertRefusedForRoleAsync(role, s => s.Post.Url(Path + "/rotate"));
    }
}
