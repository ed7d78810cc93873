using ClinicFlow.Infrastructure;
using ClinicFlow.Tests.Consent;
using ClinicFlow.Tests.Patients;
using ClinicFlow.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace ClinicFlow.Tests.Platform;

/// <summary>The retention job (<see cref="RetentionPurge"/>): one pass at a time, called as the worker calls it.</summary>
public sealed class RetentionPurgeTests(AppFixture app) : ApiTest(app)
{
    private RetentionPurge Purge => Host.Services.GetRequiredService<RetentionPurge>();

    [Fact]
    public async Task Purges_exactly_the_consent_records_whose_retention_ended_and_audits_each()
    {
        var admin = await RegisterClinicAsync(country: "DE");
        using var key = PracticeKey.NewEc();
        var (patientId, ended) = await Host.PatientWithFormAsync(admin, key);
        var running = await Host.CreateFormAsync(admin, patientId);
        var pending = await Host.CreateFormAsync(admin, patientId);
        await Host.SubmitAsync(ended.Token, key.Encrypt("{}"));
        await Host.SubmitAsync(running.Token, key.Encrypt("{}"));
        await App.ExecuteAsync("update consent_forms set retain_until = now() - interval '1 day' where id = @Id", new { ended.Id });

        await Purge.PurgeOnceAsync(Ct);

        var left = await App.QueryAsync<Guid>("select id from consent_forms where clinic_id = @ClinicId order by id", new { admin.ClinicId });
        Assert.Equal([running.Id, pending.Id], left);
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "consent.purge");
        Assert.Equal(ended.Id.ToString(), audit!.EntityId);
        Assert.Equal("system", audit.ActorType);
        Assert.Null(audit.ActorId);
        Assert.Equal(1, await App.ScalarAsync<int>("select count(*)::int from audit_log where clinic_id = @ClinicId and action = 'consent.purge'", new { admin.ClinicId }));
        Assert.Equal(1, await App.ScalarAsync<int>("select count(*)::int from patients where id = @patientId", new { patientId }));
    }

    [Fact]
    public async Task Purges_a_tombstone_only_once_nothing_retained_points_at_it()
    {
        var admin = await RegisterClinicAsync(country: "DE");
        using var key = PracticeKey.NewEc();
        await Host.PublishKeyAsync(admin, key);
        var free = await ErasedWithConsentAsync(admin, key, consentEnded: true);
        var stillRetained = await ErasedWithConsentAsync(admin, key, consentEnded: false);
        var withAppointment = (await Host.AddPatientAsync(admin)).Id;
        var doctor = Guid.CreateVersion7();
        await App.ExecuteAsync("insert into doctors (id, clinic_id, full_name) values (@doctor, @ClinicId, 'Dr. X')", new { doctor, admin.ClinicId });
        await App.ExecuteAsync("""
            insert into appointments (id, clinic_id, doctor_id, patient_id, starts_at, ends_at, status)
            values (@id, @ClinicId, @doctor, @withAppointment, now() - interval '30 days', now() - interval '30 days' + interval '30 minutes', 'completed')
            """, new { id = Guid.CreateVersion7(), admin.ClinicId, doctor, withAppointment });
        var living = (await Host.AddPatientAsync(admin)).Id;
        await App.ExecuteAsync("""
            update patients set erased_at = coalesce(erased_at, now()), retain_until = now() - interval '1 day'
            where id in (@free, @stillRetained, @withAppointment)
            """, new { free, stillRetained, withAppointment });
        await App.ExecuteAsync("update patients set retain_until = now() - interval '1 day' where id = @living", new { living });

        var pass = await Purge.PurgeOnceAsync(Ct);

        Assert.True(pass.ConsentForms >= 1 && pass.Patients >= 1);
        var left = await App.QueryAsync<Guid>("select id from patients where clinic_id = @ClinicId", new { admin.ClinicId });
        Assert.DoesNotContain(free, left);
        Assert.Contains(stillRetained, left);
        Assert.Contains(withAppointment, left);
        Assert.Contains(living, left);
        Assert.Equal(1, await App.ScalarAsync<int>("select count(*)::int from consent_forms where patient_id = @stillRetained", new { stillRetained }));
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "patient.purge");
        Assert.Equal(free.ToString(), audit!.EntityId);
    }

    [Fact]
    public async Task Concurrent_passes_purge_each_record_once()
    {
        var admin = await RegisterClinicAsync(country: "DE");
        using var key = PracticeKey.NewEc();
        await Host.PublishKeyAsync(admin, key);
        var patient = await Host.AddPatientAsync(admin);
        for (var i = 0; i < 6; i++)
        {
            var form = await Host.CreateFormAsync(admin, patient.Id);
            await Host.SubmitAsync(form.Token, key.Encrypt("{}"));
        }

        await App.ExecuteAsync("update consent_forms set retain_until = now() - interval '1 day' where clinic_id = @ClinicId", new { admin.ClinicId });

        await Task.WhenAll(Purge.PurgeOnceAsync(Ct), Purge.PurgeOnceAsync(Ct), Purge.PurgeOnceAsync(Ct));

        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from consent_forms where clinic_id = @ClinicId", new { admin.ClinicId }));
        Assert.Equal(6, await App.ScalarAsync<int>("select count(*)::int from audit_log where clinic_id = @ClinicId and action = 'consent.purge'", new { admin.ClinicId }));
        Assert.Equal(6, await App.ScalarAsync<int>(
            "select count(distinct entity_id)::int from audit_log where clinic_id = @ClinicId and action = 'consent.purge'", new { admin.ClinicId }));
    }

    /// <summary>A patient with a submitted consent, erased through the API (the consent is kept locked).</summary>
    private async Task<Guid> ErasedWithConsentAsync(Account admin, PracticeKey key, bool consentEnded)
    {
        var patient = await Host.AddPatientAsync(admin);
        var form = await Host.CreateFormAsync(admin, patient.Id);
        await Host.SubmitAsync(form.Token, key.Encrypt("{}"));
        await Host.Scenario(s =>
        {
            s.Delete.Url($"/api/patients/{patient.Id}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(System.Net.HttpStatusCode.NoContent);
        });
        if (consentEnded)
        {
            await App.ExecuteAsync("update consent_forms set retain_until = now() - interval '1 day' where id = @Id", new { form.Id });
        }

        return patient.Id;
    }
}
