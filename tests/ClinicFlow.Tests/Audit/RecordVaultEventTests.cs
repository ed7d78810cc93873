using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.AuditTrail;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.AuditTrail;

public sealed class RecordVaultEventTests(AppFixture app) : ApiTest(app)
{
    [Theory]
    [InlineData("admin", "lock")]
    [InlineData("doctor", "unlock")]
    [InlineData("staff", "unlock_failed")]
    public async Task Records_the_event_in_the_callers_chain(string role, string @event)
    {
        var admin = await RegisterClinicAsync();
        var caller = role == "admin" ? admin : await AddUserAsync(admin, role);

        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new RecordVaultEvent.Request(@event, "end of shift")).ToUrl("/api/audit/vault-event");
            s.WithBearerToken(caller.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });

        var recorded = await result.ReadAsJsonAsync<RecordVaultEvent.Response>();
        Assert.Equal(@event, recorded.Event);
        Assert.InRange(recorded.RecordedAt, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddMinutes(1));
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "vault." + @event);
        Assert.NotNull(audit);
        Assert.Equal("vault", audit.EntityType);
        Assert.Equal(caller.UserId.ToString(), audit.EntityId);
        Assert.Equal(caller.UserId, audit.ActorId);
        Assert.Equal("user", audit.ActorType);
        Assert.Equal("""{"reason": "end of shift"}""", audit.Changes);
        Assert.Equal(recorded.Id, await App.ScalarAsync<Guid>(
            "select id from audit_log where clinic_id = @ClinicId and action = @action", new { admin.ClinicId, action = "vault." + @event }));
    }

    [Fact]
    public async Task Records_a_null_reason_when_none_is_given()
    {
        var admin = await RegisterClinicAsync();

        await Host.Scenario(s =>
        {
            s.Post.Json(new { @event = "lock" }).ToUrl("/api/audit/vault-event");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });

        Assert.Equal("""{"reason": null}""", (await LastAuditAsync(admin.ClinicId!.Value, "vault.lock"))!.Changes);
    }

    [Fact]
    public async Task Concurrent_events_leave_one_valid_contiguous_chain()
    {
        var admin = await RegisterClinicAsync();
        var doctor = await AddUserAsync(admin, "doctor");

        await Task.WhenAll(Enumerable.Range(0, 20).Select(i => Host.Scenario(s =>
        {
            s.Post.Json(new RecordVaultEvent.Request(i % 2 == 0 ? "lock" : "unlock", $"burst {i}")).ToUrl("/api/audit/vault-event");
            s.WithBearerToken(i % 3 == 0 ? doctor.Token : admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        })));

        var seqs = await App.QueryAsync<long>("select seq from audit_log where clinic_id = @ClinicId order by seq", new { admin.ClinicId });
        Assert.Equal(Enumerable.Range(1, seqs.Count).Select(i => (long)i), seqs);
        Assert.Equal(20, await App.ScalarAsync<int>(
            "select count(*)::int from audit_log where clinic_id = @ClinicId and entity_type = 'vault'", new { admin.ClinicId }));
        Assert.Equal(seqs[^1], await App.ScalarAsync<long>("select seq from audit_heads where clinic_id = @ClinicId", new { admin.ClinicId }));

        var verify = await Host.Scenario(s =>
        {
            s.Get.Url("/api/audit/verify");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        var verdict = await verify.ReadAsJsonAsync<VerifyAudit.Response>();
        Assert.True(verdict.Valid);
        Assert.Equal(seqs.Count, verdict.Entries);
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s =>
        {
            s.Post.Json(new RecordVaultEvent.Request("lock", null)).ToUrl("/api/audit/vault-event");
        });
    }

    public static TheoryData<string?, string?, string> BadRequests => new()
    {
        { "open", null, "event" },
        { "LOCK", null, "event" },
        { "", null, "event" },
        { null, null, "event" },
        { "lock", new string('x', 501), "reason" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task Rejects_bad_input_with_details(string? @event, string? reason, string field)
    {
        var admin = await RegisterClinicAsync();

        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new RecordVaultEvent.Request(@event, reason)).ToUrl("/api/audit/vault-event");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.BadRequest);
        });

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Equal([field], error.Details!.Keys);
        Assert.Equal(0, await App.ScalarAsync<int>(
            "select count(*)::int from audit_log where clinic_id = @ClinicId and entity_type = 'vault'", new { admin.ClinicId }));
    }
}
