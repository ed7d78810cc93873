using ClinicFlow.Tests.Consent;
using ClinicFlow.Tests.Patients;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Analytics;

/// <summary>A clinic in Berlin with consent forms in every state, sent at known instants.</summary>
internal static class ConsentAnalyticsTestData
{
    /// <summary>
    /// Two treatment forms (one submitted after 2 h, one submitted after 4 h then revoked), one photo
    /// form opened but pending, one photo form expired, one data_processing form never opened, all
    /// sent on <paramref name="day"/> (10:00 local) except the data_processing one (a day later).
    /// </summary>
    public static async Task SeedAsync(this AppFixture app, IAlbaHost host, Account admin, PracticeKey key, DateOnly day)
    {
        await host.PublishKeyAsync(admin, key);
        var patient = await host.AddPatientAsync(admin);
        var t1 = await host.CreateFormAsync(admin, patient.Id, "treatment");
        var t2 = await host.CreateFormAsync(admin, patient.Id, "treatment");
        var p1 = await host.CreateFormAsync(admin, patient.Id, "photo");
        var p2 = await host.CreateFormAsync(admin, patient.Id, "photo");
        var d1 = await host.CreateFormAsync(admin, patient.Id, "data_processing");
        await host.SubmitAsync(t1.Token, key.Encrypt("{}"));
        await host.SubmitAsync(t2.Token, key.Encrypt("{}"));
        var sent = new DateTimeOffset(day.ToDateTime(new TimeOnly(10, 0)), TimeSpan.FromHours(1)).ToUniversalTime();
        await app.ExecuteAsync("""
            update consent_forms set created_at = @sent,
                   submitted_at = case when id = @t1 then @sent + interval '2 hours'
                                       when id = @t2 then @sent + interval '4 hours' end,
                   opened_at = case when id in (@t1, @t2, @p1) then @sent + interval '1 hour' end,
                   revoked_at = case when id = @t2 then @sent + interval '5 hours' end,
                   expires_at = case when id = @p2 then @sent + interval '1 day' else now() + interval '7 days' end
            where id in (@t1, @t2, @p1, @p2)
            """, new { sent, t1 = t1.Id, t2 = t2.Id, p1 = p1.Id, p2 = p2.Id });
        await app.ExecuteAsync("update consent_forms set created_at = @at where id = @id", new { at = sent.AddDays(1), id = d1.Id });
    }

    /// <summary>A past 15 January: winter in Berlin (CET, +01:00), so the fixed offset above is right.</summary>
    public static DateOnly WinterDay()
    {
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        return new DateOnly(today >= new DateOnly(today.Year, 1, 20) ? today.Year : today.Year - 1, 1, 15);
    }
}
