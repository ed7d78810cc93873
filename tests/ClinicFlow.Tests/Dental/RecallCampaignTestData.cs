using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Dental;

/// <summary>Patients around the recall rule, arranged straight in the database (shared by the recall campaign tests).</summary>
public static class RecallCampaignTestData
{
    public sealed record Clinic(Guid DoctorId, Guid EligiblePatientId, string EligiblePhone);

    /// <summary>
    /// One eligible patient (last completed visit 8 months ago, a phone, nothing ahead) and six who
    /// are not: booked ahead, seen 2 months ago, blocked, without phone, never seen, a visit only cancelled.
    /// </summary>
    public static async Task<Clinic> ArrangeAsync(AppFixture app, Guid clinicId)
    {
        ArgumentNullException.ThrowIfNull(app);
        var doctorId = Guid.CreateVersion7();
        await app.ExecuteAsync("insert into doctors (id, clinic_id, full_name) values (@doctorId, @clinicId, 'Dr. Luis Díaz')", new { doctorId, clinicId });

        async Task<Guid> PatientAsync(string name, string? phone, bool blocked = false)
        {
            var id = Guid.CreateVersion7();
            await app.ExecuteAsync("""
                insert into patients (id, clinic_id, full_name, phone, blocked) values (@id, @clinicId, @name, @phone, @blocked)
                """, new { id, clinicId, name, phone, blocked });
            return id;
        }

        var slot = 0;
        async Task VisitAsync(Guid patientId, TimeSpan fromNow, string status)
        {
            // One doctor: each visit an hour after the previous one, so none overlap.
            var starts = DateTimeOffset.UtcNow + fromNow + TimeSpan.FromHours(slot++);
            await app.ExecuteAsync("""
                insert into appointments (id, clinic_id, doctor_id, patient_id, starts_at, ends_at, status)
                values (@id, @clinicId, @doctorId, @patientId, @starts, @ends, @status)
                """, new { id = Guid.CreateVersion7(), clinicId, doctorId, patientId, starts, ends = starts.AddMinutes(30), status });
        }

        var eightMonths = TimeSpan.FromDays(-245);
        var eligible = await PatientAsync("Ana Torres", "+5491140000001");
        await VisitAsync(eligible, eightMonths, "completed");
        await VisitAsync(eligible, TimeSpan.FromDays(-400), "completed");

        var bookedAhead = await PatientAsync("Beto Ruiz", "+5491140000002");
        await VisitAsync(bookedAhead, eightMonths, "completed");
        await VisitAsync(bookedAhead, TimeSpan.FromDays(10), "scheduled");

        var recent = await PatientAsync("Carla Vega", "+5491140000003");
        await VisitAsync(recent, eightMonths, "completed");
        await VisitAsync(recent, TimeSpan.FromDays(-60), "completed");

        var blocked = await PatientAsync("Dario Sosa", "+5491140000004", blocked: true);
        await VisitAsync(blocked, eightMonths, "completed");

        var noPhone = await PatientAsync("Elena Paz", null);
        await VisitAsync(noPhone, eightMonths, "completed");

        await PatientAsync("Fabio Gil", "+5491140000006");

        var onlyCancelled = await PatientAsync("Gina Luna", "+5491140000007");
        await VisitAsync(onlyCancelled, eightMonths, "cancelled");

        return new Clinic(doctorId, eligible, "+5491140000001");
    }
}
