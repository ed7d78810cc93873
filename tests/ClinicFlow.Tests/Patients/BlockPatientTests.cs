using System.Net;
using System.Text.Json;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Patients;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Patients;

public sealed class BlockPatientTests(AppFixture app) : ApiTest(app)
{
    private sealed record Stored(bool Blocked, string? BlockedReason, DateTimeOffset? BlockedAt);

    private const string StoredSql = "select blocked, blocked_reason, blocked_at from patients where id = @Id";

    private Task<IScenarioResult> BlockAsync(Account? caller, Guid id, object body, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            s.Post.Json(body).ToUrl($"/api/patients/{id}/block");
            if (caller is not null)
            {
                s.WithBearerToken(caller.Token);
            }

            s.StatusCodeShouldBe(expected);
        });

    private async Task<Stored> StoredAsync(Guid id) => (await App.QueryAsync<Stored>(StoredSql, new { Id = id })).Single();

    [Fact]
    public async Task Blocks_a_patient_with_a_reason_and_audits_it()
    {
        var admin = await RegisterClinicAsync();
        var created = await Host.AddPatientAsync(admin);

        var patient = await (await BlockAsync(admin, created.Id, new BlockPatient.Request("  Three no-shows "), HttpStatusCode.OK))
            .ReadAsJsonAsync<BlockPatient.Response>();

        Assert.True(patient.Blocked);
        Assert.Equal("Three no-shows", patient.BlockedReason);
        var stored = await StoredAsync(created.Id);
        Assert.True(stored.Blocked);
        Assert.Equal("Three no-shows", stored.BlockedReason);
        Assert.NotNull(stored.BlockedAt);
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "patient.block");
        Assert.NotNull(audit);
        Assert.Equal(created.Id.ToString(), audit.EntityId);
        Assert.Equal(admin.UserId, audit.ActorId);
        using var changes = JsonDocument.Parse(audit.Changes);
        Assert.True(changes.RootElement.GetProperty("blocked").GetBoolean());
        Assert.DoesNotContain("no-shows", audit.Changes, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Blocking_again_replaces_the_reason_and_keeps_when_the_block_began()
    {
        var admin = await RegisterClinicAsync();
        var created = await Host.AddPatientAsync(admin);
        await BlockAsync(admin, created.Id, new { reason = "First" }, HttpStatusCode.OK);
        var before = await StoredAsync(created.Id);

        var patient = await (await BlockAsync(admin, created.Id, new { reason = "Second" }, HttpStatusCode.OK))
            .ReadAsJsonAsync<BlockPatient.Response>();

        Assert.Equal("Second", patient.BlockedReason);
        Assert.Equal(new Stored(true, "Second", before.BlockedAt), await StoredAsync(created.Id));
    }

    [Fact]
    public async Task Requires_a_token()
    {
        var result = await BlockAsync(null, Guid.CreateVersion7(), new { reason = "x" }, HttpStatusCode.Unauthorized);

        await ErrorAsync(result, ErrorCodes.Unauthenticated);
    }

    [Theory]
    [InlineData("doctor")]
    [InlineData("staff")]
    public async Task Refuses_non_admins(string role)
    {
        var admin = await RegisterClinicAsync();
        var member = await AddUserAsync(admin, role);
        var created = await Host.AddPatientAsync(admin);

        var result = await BlockAsync(member, created.Id, new { reason = "x" }, HttpStatusCode.Forbidden);

        await ErrorAsync(result, ErrorCodes.Forbidden);
        Assert.False((await StoredAsync(created.Id)).Blocked);
    }

    [Fact]
    public async Task Hides_another_clinics_and_erased_patients()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync("Other clinic");
        var theirs = await Host.AddPatientAsync(other);
        var erased = await Host.AddPatientAsync(admin);
        await App.EraseAsync(erased.Id);

        await ErrorAsync(await BlockAsync(admin, theirs.Id, new { reason = "x" }, HttpStatusCode.NotFound), ErrorCodes.NotFound);
        await ErrorAsync(await BlockAsync(admin, erased.Id, new { reason = "x" }, HttpStatusCode.NotFound), ErrorCodes.NotFound);
        Assert.False((await StoredAsync(theirs.Id)).Blocked);
        Assert.Null(await LastAuditAsync(admin.ClinicId!.Value, "patient.block"));
    }

    [Theory]
    [InlineData("")]
    [InlineData(null)]
    public async Task Requires_a_reason(string? reason)
    {
        var admin = await RegisterClinicAsync();
        var created = await Host.AddPatientAsync(admin);

        var result = await BlockAsync(admin, created.Id, new { reason }, HttpStatusCode.BadRequest);

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Equal(["reason"], error.Details!.Keys);
    }

    [Fact]
    public async Task Rejects_an_overlong_reason()
    {
        var admin = await RegisterClinicAsync();
        var created = await Host.AddPatientAsync(admin);

        var result = await BlockAsync(admin, created.Id, new { reason = new string('r', 501) }, HttpStatusCode.BadRequest);

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Equal(["reason"], error.Details!.Keys);
    }
}
