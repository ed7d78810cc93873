using System.Net;
using ClinicFlow.Slices.Patients;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Patients;

/// <summary>Patients made through the real API for the patient slices' tests.</summary>
internal static class PatientTestData
{
    public const string Jwe = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..MTIzNDU2Nzg5MDEy.Y2lwaGVydGV4dA.dGFndGFndGFndGFndGFn";

    public static async Task<RegisterPatient.Response> AddPatientAsync(this IAlbaHost host, Account caller, object? body = null)
    {
        var result = await host.Scenario(s =>
        {
            s.Post.Json(body ?? new { fullName = "Ana Pérez" }).ToUrl("/api/patients");
            s.WithBearerToken(caller.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        return await result.ReadAsJsonAsync<RegisterPatient.Response>();
    }

    public static Task EraseAsync(this AppFixture app, Guid patientId) =>
        app.ExecuteAsync("update patients set erased_at = now() where id = @patientId", new { patientId });
}
