using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Calendars;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Calendars;

/// <summary>GET /api/doctors/{id}/ics-url (<see cref="GetIcsUrl"/>).</summary>
public sealed class GetIcsUrlTests(AppFixture app) : SchedulingTest(app)
{
    private sealed record StoredSecret(byte[]? IcsTokenHash, string? IcsTokenSealed, DateTimeOffset? IcsTokenCreatedAt);

    private Task<IScenarioResult> GetAsync(Account? caller, Guid doctorId, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            s.Get.Url($"/api/doctors/{doctorId}/ics-url");
            if (caller is not null)
            {
                s.WithBearerToken(caller.Token);
            }

            s.StatusCodeShouldBe(expected);
        });

    private async Task<string> UrlAsync(Account caller, Guid doctorId) =>
        (await (await GetAsync(caller, doctorId, HttpStatusCode.OK)).ReadAsJsonAsync<GetIcsUrl.Response>()).Url;

    private async Task<StoredSecret> StoredAsync(Guid doctorId) => (await App.QueryAsync<StoredSecret>(
        "select ics_token_hash, ics_token_sealed, ics_token_created_at from doctors where id = @doctorId", new { doctorId })).Single();

    private static string TokenOf(string url) => url[(AppFixture.PublicBaseUrl + "/api/ics/").Length..^".ics".Length];

    [Fact]
    public async Task Creates_the_secret_on_first_use_stores_only_its_hash_and_sealed_copy_and_audits_it()
    {
        var admin = await RegisterClinicAsync();
        var doctorId = await InsertDoctorAsync(admin.ClinicId);

        var url = await UrlAsync(admin, doctorId);

        Assert.StartsWith(AppFixture.PublicBaseUrl + "/api/ics/", url, StringComparison.Ordinal);
        Assert.EndsWith(".ics", url, StringComparison.Ordinal);
        Assert.True(Uri.TryCreate(url, UriKind.Absolute, out _));
        var token = TokenOf(url);
        Assert.Equal(32, token.Length); // 192 bits, base64url
        var stored = await StoredAsync(doctorId);
        Assert.Equal(SHA256.HashData(Encoding.UTF8.GetBytes(token)), stored.IcsTokenHash);
        Assert.NotNull(stored.IcsTokenSealed);
        Assert.NotEqual(token, stored.IcsTokenSealed);
        Assert.DoesNotContain(token, stored.IcsTokenSealed, StringComparison.Ordinal);
        Assert.NotNull(stored.IcsTokenCreatedAt);
        var everywhere = await App.ScalarAsync<long>("""
            select count(*) from doctors d
            where d.id = @doctorId and (d::text like '%' || @token || '%')
            """, new { doctorId, token });
        Assert.Equal(0, everywhere);

        var audit = await LastAuditAsync(admin.ClinicId!.Value, "doctor.ics_create");
        Assert.NotNull(audit);
        Assert.Equal("doctor", audit.EntityType);
        Assert.Equal(doctorId.ToString(), audit.EntityId);
        Assert.Equal(admin.UserId, audit.ActorId);
        using var changes = JsonDocument.Parse(audit.Changes);
        Assert.Equal("icsToken", changes.RootElement.GetProperty("fields")[0].GetString());
        Assert.DoesNotContain(token, audit.Changes, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Returns_the_same_url_on_later_calls_without_a_new_secret_or_audit_entry()
    {
        var admin = await RegisterClinicAsync();
        var doctorId = await InsertDoctorAsync(admin.ClinicId);
        var first = await UrlAsync(admin, doctorId);
        var stored = await StoredAsync(doctorId);

        var second = await UrlAsync(admin, doctorId);

        Assert.Equal(first, second);
        var again = await StoredAsync(doctorId);
        Assert.Equal(stored.IcsTokenHash, again.IcsTokenHash);
        Assert.Equal(stored.IcsTokenSealed, again.IcsTokenSealed);
        Assert.Equal(stored.IcsTokenCreatedAt, again.IcsTokenCreatedAt);
        Assert.Equal(1, await App.ScalarAsync<long>(
            "select count(*) from audit_log where clinic_id = @ClinicId and action = 'doctor.ics_create'", new { admin.ClinicId }));
    }

    [Fact]
    public async Task Concurrent_first_calls_agree_on_one_secret()
    {
        var admin = await RegisterClinicAsync();
        var doctorId = await InsertDoctorAsync(admin.ClinicId);

        var urls = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => UrlAsync(admin, doctorId)));

        Assert.Single(urls.Distinct());
        Assert.Equal(SHA256.HashData(Encoding.UTF8.GetBytes(TokenOf(urls[0]))), (await StoredAsync(doctorId)).IcsTokenHash);
        Assert.Equal(1, await App.ScalarAsync<long>(
            "select count(*) from audit_log where clinic_id = @ClinicId and action = 'doctor.ics_create'", new { admin.ClinicId }));
    }

    [Fact]
    public async Task The_doctor_linked_to_the_row_gets_the_url()
    {
        var admin = await RegisterClinicAsync();
        var doctorUser = await AddUserAsync(admin, "doctor");
        var doctorId = await InsertDoctorAsync(admin.ClinicId, userId: doctorUser.UserId);

        var url = await UrlAsync(doctorUser, doctorId);

        Assert.Equal(url, await UrlAsync(admin, doctorId));
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "doctor.ics_create");
        Assert.Equal(doctorUser.UserId, audit!.ActorId);
    }

    [Fact]
    public async Task Refuses_a_doctor_who_is_not_linked_to_the_row()
    {
        var admin = await RegisterClinicAsync();
        var linked = await AddUserAsync(admin, "doctor");
        var other = await AddUserAsync(admin, "doctor");
        var doctorId = await InsertDoctorAsync(admin.ClinicId, userId: linked.UserId);

        var result = await GetAsync(other, doctorId, HttpStatusCode.Forbidden);

        await ErrorAsync(result, ErrorCodes.Forbidden);
        Assert.Null((await StoredAsync(doctorId)).IcsTokenHash);
    }

    [Fact]
    public async Task Refuses_staff()
    {
        var admin = await RegisterClinicAsync();
        var staff = await AddUserAsync(admin, "staff");
        var doctorId = await InsertDoctorAsync(admin.ClinicId, userId: null);

        var result = await GetAsync(staff, doctorId, HttpStatusCode.Forbidden);

        await ErrorAsync(result, ErrorCodes.Forbidden);
        Assert.Null((await StoredAsync(doctorId)).IcsTokenHash);
    }

    [Fact]
    public Task Requires_a_token() =>
        AssertNeedsTokenAsync(s => s.Get.Url($"/api/doctors/{Guid.CreateVersion7()}/ics-url"));

    [Fact]
    public async Task Another_clinics_doctor_is_not_found_and_keeps_no_secret()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync();
        var doctorId = await InsertDoctorAsync(other.ClinicId);

        var result = await GetAsync(admin, doctorId, HttpStatusCode.NotFound);

        await ErrorAsync(result, ErrorCodes.NotFound);
        Assert.Null((await StoredAsync(doctorId)).IcsTokenHash);
    }

    [Fact]
    public async Task An_unknown_doctor_is_not_found()
    {
        var admin = await RegisterClinicAsync();

        var result = await GetAsync(admin, Guid.CreateVersion7(), HttpStatusCode.NotFound);

        await ErrorAsync(result, ErrorCodes.NotFound);
    }
}
