using System.Net;
using System.Text.Json;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Patients;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Patients;

public sealed class UnblockPatientTests(AppFixture app) : ApiTest(app)
{
    private sealed record Stored(bool Blocked, string? BlockedReason, DateTimeOffset? BlockedAt);

    private const string StoredSql = "select blocked, blocked_reason, blocked_at from patients where id = @Id";

    private Task<IScenarioResult> UnblockAsync(Account? caller, Guid id, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            s.Post.Url($"/api/patients/{id}/unblock");
            if (caller is not null)
            {
                s.WithBearerToken(caller.Token);
            }

            s.StatusCodeShouldBe(expected);
        });

    private async Task<RegisterPatient.Response> BlockedPatientAsync(Account admin)
    {
        var patient = await Host.AddPatientAsync(admin);
        await Host.Scenario(s =>
        {
            s.Post.Json(new { reason = "Unpaid" }).ToUrl($"/api/patients/{patient.Id}/block");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        return patient;
    }

    private async Task<Stored> StoredAsync(Guid id) => (await App.QueryAsync<Stored>(StoredSql, new { Id = id })).Single();

    [Fact]
    public async Task Unblocks_a_patient_and_audits_it()
    {
        var admin = await RegisterClinicAsync();
        var blocked = await BlockedPatientAsync(admin);

        var patient = await (await UnblockAsync(admin, blocked.Id, HttpStatusCode.OK)).ReadAsJsonAsync<UnblockPatient.Response>();

        Assert.False(patient.Blocked);
        Assert.Null(patient.BlockedReason);
        Assert.Equal(new Stored(false, null, null), await StoredAsync(blocked.Id));
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "patient.unblock");
        Assert.NotNull(audit);
        Assert.Equal(blocked.Id.ToString(), audit.EntityId);
        Assert.Equal(admin.UserId, audit.ActorId);
        using var changes = JsonDocument.Parse(audit.Changes);
        Assert.False(changes.RootElement.GetProperty("blocked").GetBoolean());
    }

    [Fact]
    public async Task Unblocking_an_unblocked_patient_changes_nothing()
    {
        var admin = await RegisterClinicAsync();
        var patient = await Host.AddPatientAsync(admin);

        var result = await (await UnblockAsync(admin, patient.Id, HttpStatusCode.OK)).ReadAsJsonAsync<UnblockPatient.Response>();

        Assert.False(result.Blocked);
        Assert.Null(await LastAuditAsync(admin.ClinicId!.Value, "patient.unblock"));
    }

    [Fact]
    public async Task Requires_a_token()
    {
        var result = await UnblockAsync(null, Guid.CreateVersion7(), HttpStatusCode.Unauthorized);

        await ErrorAsync(result, ErrorCodes.Unauthenticated);
    }

    [Theory]
    [InlineData("doctor")]
    [InlineData("staff")]
    public async Task Refuses_non_admins(string role)
    {
        var admin = await RegisterClinicAsync();
        var member = await AddUserAsync(admin, role);
        var blocked = await BlockedPatientAsync(admin);

        var result = await UnblockAsync(member, blocked.Id, HttpStatusCode.Forbidden);

        await ErrorAsync(result, ErrorCodes.Forbidden);
        Assert.True((await StoredAsync(blocked.Id)).Blocked);
    }

    [Fact]
    public async Task Hides_another_clinics_and_erased_patients()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync("Other clinic");
        var theirs = await BlockedPatientAsync(other);
        var erased = await BlockedPatientAsync(admin);
        await App.EraseAsync(erased.Id);

        await ErrorAsync(await UnblockAsync(admin, theirs.Id, HttpStatusCode.NotFound), ErrorCodes.NotFound);
        await ErrorAsync(await UnblockAsync(admin, erased.Id, HttpStatusCode.NotFound), ErrorCodes.NotFound);
        Assert.True((await StoredAsync(theirs.Id)).Blocked);
        Assert.True((await StoredAsync(erased.Id)).Blocked);
    }
}
