using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Calendars;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Calendars;

/// <summary>POST /api/doctors/{id}/ics-url/rotate (<see cref="RotateIcsUrl"/>).</summary>
public sealed class RotateIcsUrlTests(AppFixture app) : SchedulingTest(app)
{
    private sealed record StoredSecret(byte[]? IcsTokenHash, string? IcsTokenSealed);

    private Task<IScenarioResult> RotateAsync(Account? caller, Guid doctorId, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            s.Post.Url($"/api/doctors/{doctorId}/ics-url/rotate");
            if (caller is not null)
            {
                s.WithBearerToken(caller.Token);
            }

            s.StatusCodeShouldBe(expected);
        });

    private async Task<string> RotatedUrlAsync(Account caller, Guid doctorId) =>
        (await (await RotateAsync(caller, doctorId, HttpStatusCode.OK)).ReadAsJsonAsync<RotateIcsUrl.Response>()).Url;

    private async Task<string> UrlAsync(Account caller, Guid doctorId)
    {
        var result = await Host.Scenario(s =>
        {
            s.Get.Url($"/api/doctors/{doctorId}/ics-url");
            s.WithBearerToken(caller.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        return (await result.ReadAsJsonAsync<GetIcsUrl.Response>()).Url;
    }

    private Task<IScenarioResult> FeedAsync(string url, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            s.Get.Url(new Uri(url).AbsolutePath);
            s.StatusCodeShouldBe(expected);
        });

    private async Task<StoredSecret> StoredAsync(Guid doctorId) => (await App.QueryAsync<StoredSecret>(
        "select ics_token_hash, ics_token_sealed from doctors where id = @doctorId", new { doctorId })).Single();

    private static byte[] HashOf(string url) =>
        SHA256.HashData(Encoding.UTF8.GetBytes(url[(AppFixture.PublicBaseUrl + "/api/ics/").Length..^".ics".Length]));

    [Fact]
    public async Task Replaces_the_secret_so_the_old_url_is_gone_at_once_and_audits_it()
    {
        var admin = await RegisterClinicAsync();
        var doctorId = await InsertDoctorAsync(admin.ClinicId);
        var old = await UrlAsync(admin, doctorId);
        await FeedAsync(old, HttpStatusCode.OK);

        var rotated = await RotatedUrlAsync(admin, doctorId);

        Assert.NotEqual(old, rotated);
        Assert.StartsWith(AppFixture.PublicBaseUrl + "/api/ics/", rotated, StringComparison.Ordinal);
        Assert.EndsWith(".ics", rotated, StringComparison.Ordinal);
        var stored = await StoredAsync(doctorId);
        Assert.Equal(HashOf(rotated), stored.IcsTokenHash);
        Assert.DoesNotContain(rotated[(AppFixture.PublicBaseUrl + "/api/ics/").Length..^4], stored.IcsTokenSealed, StringComparison.Ordinal);
        await ErrorAsync(await FeedAsync(old, HttpStatusCode.NotFound), ErrorCodes.NotFound);
        await FeedAsync(rotated, HttpStatusCode.OK);
        Assert.Equal(rotated, await UrlAsync(admin, doctorId));

        var audit = await LastAuditAsync(admin.ClinicId!.Value, "doctor.ics_rotate");
        Assert.NotNull(audit);
        Assert.Equal("doctor", audit.EntityType);
        Assert.Equal(doctorId.ToString(), audit.EntityId);
        Assert.Equal(admin.UserId, audit.ActorId);
        using var changes = JsonDocument.Parse(audit.Changes);
        Assert.Equal("icsToken", changes.RootElement.GetProperty("fields")[0].GetString());
    }

    [Fact]
    public async Task Rotating_before_any_url_was_shown_creates_one()
    {
        var admin = await RegisterClinicAsync();
        var doctorId = await InsertDoctorAsync(admin.ClinicId);

        var rotated = await RotatedUrlAsync(admin, doctorId);

        Assert.Equal(HashOf(rotated), (await StoredAsync(doctorId)).IcsTokenHash);
        Assert.Equal(rotated, await UrlAsync(admin, doctorId));
    }

    [Fact]
    public async Task The_doctor_linked_to_the_row_may_rotate()
    {
        var admin = await RegisterClinicAsync();
        var doctorUser = await AddUserAsync(admin, "doctor");
        var doctorId = await InsertDoctorAsync(admin.ClinicId, userId: doctorUser.UserId);
        var old = await UrlAsync(doctorUser, doctorId);

        var rotated = await RotatedUrlAsync(doctorUser, doctorId);

        Assert.NotEqual(old, rotated);
        Assert.Equal(HashOf(rotated), (await StoredAsync(doctorId)).IcsTokenHash);
        Assert.Equal(doctorUser.UserId, (await LastAuditAsync(admin.ClinicId!.Value, "doctor.ics_rotate"))!.ActorId);
    }

    [Fact]
    public async Task Refuses_a_doctor_who_is_not_linked_to_the_row_and_keeps_the_secret()
    {
        var admin = await RegisterClinicAsync();
        var other = await AddUserAsync(admin, "doctor");
        var doctorId = await InsertDoctorAsync(admin.ClinicId);
        var url = await UrlAsync(admin, doctorId);

        var result = await RotateAsync(other, doctorId, HttpStatusCode.Forbidden);

        await ErrorAsync(result, ErrorCodes.Forbidden);
        Assert.Equal(HashOf(url), (await StoredAsync(doctorId)).IcsTokenHash);
        Assert.Null(await LastAuditAsync(admin.ClinicId!.Value, "doctor.ics_rotate"));
    }

    [Fact]
    public async Task Refuses_staff()
    {
        var admin = await RegisterClinicAsync();
        var staff = await AddUserAsync(admin, "staff");
        var doctorId = await InsertDoctorAsync(admin.ClinicId);

        var result = await RotateAsync(staff, doctorId, HttpStatusCode.Forbidden);

        await ErrorAsync(result, ErrorCodes.Forbidden);
        Assert.Null((await StoredAsync(doctorId)).IcsTokenHash);
    }

    [Fact]
    public Task Requires_a_token() =>
        AssertNeedsTokenAsync(s => s.Post.Url($"/api/doctors/{Guid.CreateVersion7()}/ics-url/rotate"));

    [Fact]
    public async Task Another_clinics_doctor_is_not_found_and_keeps_its_secret()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync();
        var doctorId = await InsertDoctorAsync(other.ClinicId);
        var url = await UrlAsync(other, doctorId);

        var result = await RotateAsync(admin, doctorId, HttpStatusCode.NotFound);

        await ErrorAsync(result, ErrorCodes.NotFound);
        Assert.Equal(HashOf(url), (await StoredAsync(doctorId)).IcsTokenHash);
        await FeedAsync(url, HttpStatusCode.OK);
    }
}
