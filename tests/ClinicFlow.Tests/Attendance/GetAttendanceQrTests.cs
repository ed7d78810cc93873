using System.Net;
using System.Text;
using ClinicFlow.Infrastructure;
using ClinicFlow.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using QRCoder;

namespace ClinicFlow.Tests.Attendance;

/// <summary>GET /api/clinics/current/attendance-qr (<see cref="ClinicFlow.Slices.Attendance.GetAttendanceQr"/>).</summary>
public sealed class GetAttendanceQrTests(AppFixture app) : ApiTest(app)
{
    private const string Path = "/api/clinics/current/attendance-qr";

    private static readonly byte[] PngMagic = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    private sealed record TokenRow(Guid Id, string TokenSealed, DateTimeOffset? RevokedAt);

    private Task<IScenarioResult> GetAsync(Account caller, string query = "") =>
        Host.Scenario(s =>
        {
            s.Get.Url(Path + query);
            s.WithBearerToken(caller.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

    private static async Task<byte[]> BytesAsync(IScenarioResult result)
    {
        using var copy = new MemoryStream();
        await result.Context.Response.Body.CopyToAsync(copy, Ct);
        return copy.ToArray();
    }

    private Task<IReadOnlyList<TokenRow>> TokensAsync(Guid? clinicId) =>
        App.QueryAsync<TokenRow>(
            "select id, token_sealed, revoked_at from attendance_tokens where clinic_id = @clinicId order by created_at, id",
            new { clinicId });

    private string Open(Guid? clinicId, TokenRow row) =>
        Host.Services.GetRequiredService<SecretBox>().Open(row.TokenSealed, $"attendance:{clinicId}:{row.Id}")
        ?? throw new InvalidOperationException("The sealed token does not open.");

    private static string Svg(string url)
    {
        using var generator = new QRCodeGenerator();
        using var data = generator.CreateQrCode(url, QRCodeGenerator.ECCLevel.M);
        using var svg = new SvgQRCode(data);
        return svg.GetGraphic(10);
    }

    [Fact]
    public async Task Returns_a_png_by_default_and_creates_the_clinics_token_on_first_use()
    {
        var admin = await RegisterClinicAsync();
        Assert.Empty(await TokensAsync(admin.ClinicId));

        var result = await GetAsync(admin);

        Assert.Equal("image/png", result.Context.Response.ContentType);
        Assert.Equal("no-store", result.Context.Response.Headers.CacheControl.ToString());
        var png = await BytesAsync(result);
        Assert.Equal(PngMagic, png.Take(8));
        var row = Assert.Single(await TokensAsync(admin.ClinicId));
        Assert.Null(row.RevokedAt);
        Assert.StartsWith("v1.", row.TokenSealed, StringComparison.Ordinal);
        var token = Open(admin.ClinicId, row);
        Assert.Equal(SecretBox.Hash(token), await App.ScalarAsync<byte[]>(
            "select token_hash from attendance_tokens where id = @id", new { id = row.Id }));
        Assert.DoesNotContain(token, row.TokenSealed, StringComparison.Ordinal);

        var audit = await LastAuditAsync(admin.ClinicId!.Value, "attendance_qr.create");
        Assert.NotNull(audit);
        Assert.Equal(row.Id.ToString(), audit.EntityId);
        Assert.Equal("attendance_token", audit.EntityType);
        Assert.Equal(admin.UserId, audit.ActorId);
        Assert.DoesNotContain(token, audit.Changes, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Keeps_the_same_token_across_requests()
    {
        var admin = await RegisterClinicAsync();

        var first = await BytesAsync(await GetAsync(admin));
        var sealedFirst = Assert.Single(await TokensAsync(admin.ClinicId)).TokenSealed;
        var second = await BytesAsync(await GetAsync(admin, "?format=png"));

        Assert.Equal(sealedFirst, Assert.Single(await TokensAsync(admin.ClinicId)).TokenSealed);
        Assert.Equal(first, second);
        Assert.Equal(1, await App.ScalarAsync<long>(
            "select count(*) from audit_log where clinic_id = @clinicId and action = 'attendance_qr.create'", new { clinicId = admin.ClinicId }));
    }

    [Fact]
    public async Task Concurrent_first_requests_leave_one_active_token()
    {
        var admin = await RegisterClinicAsync();

        var images = await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ => await BytesAsync(await GetAsync(admin))));

        var row = Assert.Single(await TokensAsync(admin.ClinicId));
        Assert.Null(row.RevokedAt);
        Assert.All(images, image => Assert.Equal(images[0], image));
    }

    [Fact]
    public async Task Returns_an_svg_of_the_public_check_in_page_with_format_svg()
    {
        var admin = await RegisterClinicAsync();

        var result = await GetAsync(admin, "?format=SVG");

        Assert.Equal("image/svg+xml", result.Context.Response.ContentType);
        Assert.Equal("no-store", result.Context.Response.Headers.CacheControl.ToString());
        var svg = Encoding.UTF8.GetString(await BytesAsync(result));
        Assert.Contains("<svg", svg, StringComparison.Ordinal);
        // The same code QRCoder draws for the check-in URL of the clinic's token.
        var token = Open(admin.ClinicId, Assert.Single(await TokensAsync(admin.ClinicId)));
        Assert.Equal(Svg($"{AppFixture.PublicBaseUrl}/check-in/{token}"), svg);
    }

    [Fact]
    public async Task Rejects_another_format_naming_the_field()
    {
        var admin = await RegisterClinicAsync();

        await AssertInvalidAsync("format", s =>
        {
            s.Get.Url(Path + "?format=gif");
            s.WithBearerToken(admin.Token);
        });
        Assert.Empty(await TokensAsync(admin.ClinicId));
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Get.Url(Path));
    }

    [Theory]
    [InlineData("staff")]
    [InlineData("doctor")]
    public async Task Refuses_non_admins(string role)
    {
        await AssertRefusedForRoleAsync(role, s => s.Get.Url(Path));
    }
}
