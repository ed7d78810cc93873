using System.Net;
using System.Net.Http.Headers;
using System.Text;
using ClinicFlow.Slices.Photos;
using ClinicFlow.Slices.TreatmentPlans;
using Microsoft.IdentityModel.Tokens;

namespace ClinicFlow.Tests.Support;

/// <summary>
/// Base of the clinical-record tests (photos, treatment plans, dental, analytics): patients through the
/// real API, photos uploaded as multipart ciphertext, plans created through the real routes.
/// </summary>
public abstract class ClinicalTest(AppFixture app) : SchedulingTest(app)
{
    /// <summary>A key envelope of the allowed form: ECDH-ES+A256KW / A256GCM with a kid (never decrypted by the server).</summary>
    public static readonly string KeyEnvelope =
        Base64UrlEncoder.Encode("""{"alg":"ECDH-ES+A256KW","enc":"A256GCM","kid":"practice-key-1","epk":{"kty":"EC","crv":"P-256","x":"AQ","y":"Ag"}}""")
        + ".d3JhcHBlZC1rZXk.aXZpdml2aXZpdml2.Y2lwaGVydGV4dA.dGFndGFndGFndGFndGFn";

    protected static byte[] RandomBytes(int length) => System.Security.Cryptography.RandomNumberGenerator.GetBytes(length);

    /// <summary>The multipart body of an upload; fields set to null are left out.</summary>
    protected static MultipartFormDataContent PhotoContent(Guid? patientId, byte[]? file, string? keyEnvelope = null, string? category = "before",
        string? mimeType = "image/jpeg", string? takenAt = "2026-03-01T14:00:00Z", string? bodyRegion = "face", string? consentStatus = null)
    {
        var content = new MultipartFormDataContent();
        void Add(string name, string? value)
        {
            if (value is not null)
            {
                content.Add(new StringContent(value, Encoding.UTF8), name);
            }
        }

        Add("patientId", patientId?.ToString());
        Add("keyEnvelope", keyEnvelope ?? KeyEnvelope);
        Add("mimeType", mimeType);
        Add("takenAt", takenAt);
        Add("category", category);
        Add("bodyRegion", bodyRegion);
        Add("consentStatus", consentStatus);
        if (file is not null)
        {
            var part = new ByteArrayContent(file);
            part.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            content.Add(part, "file", "photo.bin");
        }

        return content;
    }

    protected async Task<UploadPhoto.Response> UploadAsync(Account account, Guid patientId, byte[]? bytes = null, string? consentStatus = null)
    {
        var result = await Host.Scenario(s =>
        {
            s.Post.MultipartFormData(PhotoContent(patientId, bytes ?? RandomBytes(1000), consentStatus: consentStatus)).ToUrl("/api/photos");
            s.WithBearerToken(account.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        return await BodyAsync<UploadPhoto.Response>(result);
    }

    /// <summary>An HTTP client straight on the test server, for binary bodies and streamed uploads.</summary>
    protected HttpClient Client(Account? account)
    {
        var client = Host.Server.CreateClient();
        if (account is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", account.Token);
        }

        return client;
    }

    public sealed record Item(string Description, string? Code, int? Tooth, int Quantity, long UnitPriceCents);

    protected static Item[] Items(params long[] prices) => prices.Select((p, i) => new Item($"Item {i + 1}", $"C{i + 1}", 11 + i, 1, p)).ToArray();

    /// <summary>Creates a plan through POST /api/treatment-plans.</summary>
    protected async Task<CreateTreatmentPlan.Response> CreatePlanAsync(Account account, Guid patientId, string status = "draft",
        IEnumerable<Item>? items = null, string title = "Plan")
    {
        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new { patientId, title, status, notes = "Note", items = items ?? Items(10_000) }).ToUrl("/api/treatment-plans");
            s.WithBearerToken(account.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        return await BodyAsync<CreateTreatmentPlan.Response>(result);
    }

    /// <summary>An accepted plan of one item worth <paramref name="totalCents"/>.</summary>
    protected Task<CreateTreatmentPlan.Response> AcceptedPlanAsync(Account account, Guid patientId, long totalCents) =>
        CreatePlanAsync(account, patientId, TreatmentPlanRules.Accepted, [new Item("Implant", "I1", 36, 1, totalCents)]);

    protected Task SetPlanTierAsync(Account admin, string plan) =>
        App.ExecuteAsync("update clinics set plan = @plan where id = @id", new { plan, id = admin.ClinicId });

    /// <summary>The request answers 403 PLAN_UPGRADE_REQUIRED for a clinic on the basic plan.</summary>
    protected async Task AssertNeedsProPlanAsync(Func<Account, Guid, Action<Scenario>> request)
    {
        var admin = await RegisterClinicAsync();
        var patient = await CreatePatientAsync(admin);
        await SetPlanTierAsync(admin, "basic");
        var result = await Host.Scenario(s =>
        {
            request(admin, patient)(s);
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Forbidden);
        });
        await ErrorAsync(result, ClinicFlow.Infrastructure.ErrorCodes.PlanUpgradeRequired);
    }
}
