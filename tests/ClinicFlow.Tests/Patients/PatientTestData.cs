using System.Net;
using ClinicFlow.Slices.Patients;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Patients;

/// <summary>Patients for the patient slices' tests, made through the real API or written as a whole row.</summary>
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

    /// <summary>A patient with every field set (and blocked), written straight to the database.</summary>
    public static async Task<Guid> InsertFullPatientAsync(this AppFixture app, Guid? clinicId)
    {
        var id = Guid.CreateVersion7();
        await app.ExecuteAsync("""
            insert into patients (id, clinic_id, full_name, phone, email, birth_date, gender, document_id, notes,
                                  blocked, blocked_reason, blocked_at, lookup_hash, encrypted_data)
            values (@id, @clinicId, 'Marta Núñez', '+5491122334401', 'marta@example.com', '1985-04-03', 'female', 'DNI-1', 'allergic',
                    true, 'no-shows', now(), 'hash-1', 'a.b.c.d.e')
            """, new { id, clinicId });
        return id;
    }

    public static Task EraseAsync(this AppFixture app, Guid patientId) =>
        app.ExecuteAsync("update patients set erased_at = now() where id = @patientId", new { patientId });
}
