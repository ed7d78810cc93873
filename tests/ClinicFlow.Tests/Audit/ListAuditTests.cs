using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.AuditTrail;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.AuditTrail;

public sealed class ListAuditTests(AppFixture app) : ApiTest(app)
{
    [Fact]
    public async Task Lists_the_clinics_entries_newest_first_with_changes_as_json()
    {
        var admin = await RegisterClinicAsync();
        await VaultEventAsync(admin, "unlock", "morning shift");

        var page = await ListAsync(admin, "");

        var newest = page.Items[0];
        Assert.Equal("vault.unlock", newest.Action);
        Assert.Equal("vault", newest.EntityType);
        Assert.Equal(admin.UserId.ToString(), newest.EntityId);
        Assert.Equal(admin.UserId, newest.ActorId);
        Assert.Equal("user", newest.ActorType);
        Assert.Equal("morning shift", newest.Changes.GetProperty("reason").GetString());
        Assert.Equal(["vault.unlock", "user.register", "clinic.create"], page.Items.Select(i => i.Action));
        Assert.Equal([3L, 2L, 1L], page.Items.Select(i => i.Seq));
        Assert.Null(page.NextCursor);

        var stored = await App.QueryAsync<(Guid Id, string Hash, DateTime OccurredAt)>(
            "select id, encode(hash, 'hex'), occurred_at from audit_log where clinic_id = @ClinicId and seq = 3", new { admin.ClinicId });
        Assert.Equal(stored[0].Id, newest.Id);
        Assert.Equal(stored[0].Hash, newest.Hash);
        Assert.Matches("^[0-9a-f]{64}$", newest.Hash);
        Assert.Equal(new DateTimeOffset(stored[0].OccurredAt, TimeSpan.Zero), newest.OccurredAt);
    }

    [Fact]
    public async Task Filters_by_action_actor_entity_and_time()
    {
        var admin = await RegisterClinicAsync();
        var doctor = await AddUserAsync(admin, "doctor");
        await VaultEventAsync(admin, "lock", null);
        await VaultEventAsync(doctor, "unlock", null);
        await VaultEventAsync(doctor, "unlock_failed", "typo");

        var byAction = await ListAsync(admin, "?action=vault.unlock");
        Assert.Equal(doctor.UserId, Assert.Single(byAction.Items).ActorId);

        var byActor = await ListAsync(admin, $"?actorId={doctor.UserId}");
        Assert.All(byActor.Items, i => Assert.Equal(doctor.UserId, i.ActorId));
        Assert.Equal(["vault.unlock_failed", "vault.unlock", "user.login"], byActor.Items.Select(i => i.Action));

        var byEntity = await ListAsync(admin, $"?entityType=vault&entityId={admin.UserId}");
        Assert.Equal("vault.lock", Assert.Single(byEntity.Items).Action);

        var all = await ListAsync(admin, "");
        var oldest = all.Items[^1].OccurredAt;
        var newest = all.Items[0].OccurredAt;
        Assert.Equal(all.Items.Count, (await ListAsync(admin, $"?from={Instant(oldest)}&to={Instant(newest)}")).Items.Count);
        Assert.Empty((await ListAsync(admin, $"?to={Instant(oldest.AddSeconds(-1))}")).Items);
        Assert.Empty((await ListAsync(admin, $"?from={Instant(newest.AddSeconds(1))}")).Items);
        // An offset other than Z names the same instant.
        var shifted = Uri.EscapeDataString(newest.ToOffset(TimeSpan.FromHours(2)).ToString("yyyy-MM-ddTHH:mm:ss.ffffffzzz", System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(all.Items.Count, (await ListAsync(admin, $"?to={shifted}")).Items.Count);
    }

    [Fact]
    public async Task Walks_every_entry_exactly_once_through_the_cursor()
    {
        var admin = await RegisterClinicAsync();
        for (var i = 0; i < 7; i++)
        {
            await VaultEventAsync(admin, "lock", $"r{i}");
        }

        var seen = new List<long>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await ListAsync(admin, "?limit=2" + (cursor is null ? "" : $"&cursor={cursor}"));
            Assert.InRange(page.Items.Count, 1, 2);
            seen.AddRange(page.Items.Select(i => i.Seq));
            cursor = page.NextCursor;
            pages++;
        }
        while (cursor is not null);

        var expected = await App.QueryAsync<long>("select seq from audit_log where clinic_id = @ClinicId order by seq desc", new { admin.ClinicId });
        Assert.Equal(9, expected.Count);
        Assert.Equal(expected, seen);
        Assert.Equal(5, pages);
    }

    [Fact]
    public async Task Never_shows_another_clinics_entries()
    {
        var mine = await RegisterClinicAsync();
        var theirs = await RegisterClinicAsync();
        await VaultEventAsync(mine, "lock", null);
        await VaultEventAsync(theirs, "lock", "theirs");

        var page = await ListAsync(mine, "?limit=200");
        var ids = page.Items.Select(i => i.Id).ToArray();
        var clinics = await App.QueryAsync<Guid>("select distinct clinic_id from audit_log where id = any(@ids)", new { ids });
        Assert.Equal([mine.ClinicId!.Value], clinics);
        Assert.DoesNotContain(page.Items, i => i.ActorId == theirs.UserId);

        Assert.Empty((await ListAsync(mine, $"?entityType=vault&entityId={theirs.UserId}")).Items);
        Assert.Empty((await ListAsync(mine, $"?actorId={theirs.UserId}")).Items);
        Assert.Empty((await ListAsync(mine, $"?entityId={theirs.ClinicId}")).Items);
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s =>
        {
            s.Get.Url("/api/audit");
        });
    }

    [Theory]
    [InlineData("doctor")]
    [InlineData("staff")]
    public async Task Refuses_non_admins(string role)
    {
        await AssertRefusedForRoleAsync(role, s =>
        {
            s.Get.Url("/api/audit");
        });
    }

    [Theory]
    [InlineData("?limit=0", "limit")]
    [InlineData("?limit=201", "limit")]
    [InlineData("?limit=abc", "limit")]
    [InlineData("?cursor=%21%21", "cursor")]
    [InlineData("?cursor=YWJj", "cursor")]
    [InlineData("?from=yesterday", "from")]
    [InlineData("?to=2026-13-45T00:00:00Z", "to")]
    [InlineData("?actorId=nobody", "actorId")]
    [InlineData("?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z", "from")]
    public async Task Rejects_bad_query_with_details(string query, string field)
    {
        var admin = await RegisterClinicAsync();

        await AssertInvalidAsync(field, s =>
        {
            s.Get.Url("/api/audit" + query);
            s.WithBearerToken(admin.Token);
        });
    }

    private async Task<Page<ListAudit.Response>> ListAsync(Account account, string query)
    {
        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/audit" + query);
            s.WithBearerToken(account.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        return await result.ReadAsJsonAsync<Page<ListAudit.Response>>();
    }

    private Task<IScenarioResult> VaultEventAsync(Account account, string @event, string? reason) =>
        Host.Scenario(s =>
        {
            s.Post.Json(new RecordVaultEvent.Request(@event, reason)).ToUrl("/api/audit/vault-event");
            s.WithBearerToken(account.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });

    private static string Instant(DateTimeOffset at) =>
        Uri.EscapeDataString(at.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.ffffffZ", System.Globalization.CultureInfo.InvariantCulture));
}
