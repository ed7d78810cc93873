using Dapper;
using Npgsql;

namespace ClinicFlow.Infrastructure;

/// <summary>--seed-demo: a demo clinic with an admin (credentials printed once), a doctor with weekday hours and two patients.</summary>
public static class DemoSeed
{
    public const string Email = "admin@demo.clinicflow.local";

    public static async Task RunAsync(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var db = app.Services.GetRequiredService<NpgsqlDataSource>();
        var passwords = app.Services.GetRequiredService<PasswordHashing>();
        await using var system = await SystemConnection.BeginAsync(db, CancellationToken.None);
        var exists = await system.Connection.ExecuteScalarAsync<bool>(
            "select exists (select 1 from users where email = @Email)", new { Email }, system.Transaction);
        if (exists)
        {
            Console.WriteLine($"Demo clinic already seeded: sign in as {Email} (password printed when it was created).");
            return;
        }

        var password = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(12)).Replace('/', 'x').Replace('+', 'y');
        var clinicId = Guid.CreateVersion7();
        await system.Connection.ExecuteAsync("""
            insert into clinics (id, name, timezone, country, currency, locale, plan, subscription_status, subscription_expires_at)
            values (@ClinicId, 'Clínica Demo', 'America/Argentina/Buenos_Aires', 'AR', 'ARS', 'es', 'pro', 'trialing', now() + interval '14 days');
            insert into users (id, clinic_id, email, password_hash, full_name, role, locale)
            values (@UserId, @ClinicId, @Email, @Hash, 'Demo Admin', 'admin', 'es');
            insert into doctors (id, clinic_id, full_name, specialty, color, slot_minutes)
            values (@DoctorId, @ClinicId, 'Dra. Lucía Fernández', 'Odontología general', '#2a9d8f', 30);
            insert into doctor_weekly_hours (clinic_id, doctor_id, weekday, starts_at, ends_at)
            select @ClinicId, @DoctorId, d, r.s, r.e
            from generate_series(1, 5) d, (values ('09:00'::time, '13:00'::time), ('14:00', '18:00')) r (s, e);
            insert into patients (id, clinic_id, full_name, phone)
            values (@PatientId, @ClinicId, 'Martín Gómez', '+5491122334455'),
                   (@OtherPatientId, @ClinicId, 'Sofía Ramírez', '+5491166778899');
            """, new
            {
                ClinicId = clinicId, UserId = Guid.CreateVersion7(), Email, Hash = passwords.Hash(password), DoctorId = Guid.CreateVersion7(),
                PatientId = Guid.CreateVersion7(), OtherPatientId = Guid.CreateVersion7(),
            }, system.Transaction);
        await system.Transaction.CommitAsync();
        Console.WriteLine($"Demo clinic seeded. Sign in at POST /api/auth/login with {Email} / {password}");
    }
}
