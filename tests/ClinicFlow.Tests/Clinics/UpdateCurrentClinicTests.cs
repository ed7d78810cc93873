using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Clinics;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Clinics;

public sealed class UpdateCurrentClinicTests(AppFixture app) : ApiTest(app)
{
    private static readonly int[] DefaultReminders = [24, 2];
    private static readonly int[] NewReminders = [48, 2];

    private static UpdateCurrentClinic.Request Empty => new(null, null, null, null, null, null, null, null, null);

    [Fact]
    public async Task Updates_the_given_fields_and_audits_what_changed()
    {
        var admin = await RegisterClinicAsync("Praxis Alt", "AR");

        var result = await Host.Scenario(s =>
        {
            s.Patch.Json(Empty with
            {
                Name = "  Praxis Neu ",
                Timezone = "Europe/Berlin",
                Country = "DE",
                Currency = "EUR",
                Locale = "de",
                Phone = "+4930123456",
                Address = "Hauptstraße 1, Berlin",
                ReminderHours = [2, 48],
                IcsShowPatientNames = true,
            }).ToUrl("/api/clinics/current");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        var clinic = await result.ReadAsJsonAsync<UpdateCurrentClinic.Response>();
        Assert.Equal("Praxis Neu", clinic.Name);
        Assert.Equal("Europe/Berlin", clinic.Timezone);
        Assert.Equal("DE", clinic.Country);
        Assert.Equal("EUR", clinic.Currency);
        Assert.Equal("de", clinic.Locale);
        Assert.Equal("+4930123456", clinic.Phone);
        Assert.Equal("Hauptstraße 1, Berlin", clinic.Address);
        Assert.Equal(NewReminders, clinic.ReminderHours);
        Assert.True(clinic.IcsShowPatientNames);

        var stored = await App.QueryAsync<(string Name, string Timezone, string Currency, bool Ics)>(
            "select name, timezone, currency, ics_show_patient_names from clinics where id = @ClinicId", new { admin.ClinicId });
        Assert.Equal(("Praxis Neu", "Europe/Berlin", "EUR", true), stored.Single());
        Assert.Equal(NewReminders, await App.ScalarAsync<int[]>("select reminder_hours from clinics where id = @ClinicId", new { admin.ClinicId }));

        var audit = await LastAuditAsync(admin.ClinicId!.Value, "clinic.update");
        Assert.NotNull(audit);
        Assert.Equal(admin.UserId, audit.ActorId);
        Assert.Equal(admin.ClinicId.ToString(), audit.EntityId);
        Assert.Contains("\"timezone\": \"Europe/Berlin\"", audit.Changes, StringComparison.Ordinal);
        Assert.Contains("\"reminderHours\": [48, 2]", audit.Changes, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Leaves_absent_fields_unchanged_and_audits_only_real_changes()
    {
        var admin = await RegisterClinicAsync("Consultorio Sur", "CL");

        var result = await Host.Scenario(s =>
        {
            s.Patch.Json(new { icsShowPatientNames = true, name = "Consultorio Sur" }).ToUrl("/api/clinics/current");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        var clinic = await result.ReadAsJsonAsync<UpdateCurrentClinic.Response>();
        Assert.Equal("Consultorio Sur", clinic.Name);
        Assert.Equal("America/Santiago", clinic.Timezone);
        Assert.Equal("CLP", clinic.Currency);
        Assert.Equal(DefaultReminders, clinic.ReminderHours);
        Assert.True(clinic.IcsShowPatientNames);
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "clinic.update");
        Assert.Equal("{\"icsShowPatientNames\": true}", audit!.Changes);
    }

    [Fact]
    public async Task Sets_how_long_a_waitlist_offer_stays_open()
    {
        var admin = await RegisterClinicAsync();
        Assert.Equal(30, await App.ScalarAsync<int>("select offer_minutes from clinics where id = @ClinicId", new { admin.ClinicId }));

        var result = await Host.Scenario(s =>
        {
            s.Patch.Json(Empty with { OfferMinutes = 90 }).ToUrl("/api/clinics/current");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        Assert.Equal(90, (await result.ReadAsJsonAsync<UpdateCurrentClinic.Response>()).OfferMinutes);
        Assert.Equal(90, await App.ScalarAsync<int>("select offer_minutes from clinics where id = @ClinicId", new { admin.ClinicId }));
        Assert.Equal("{\"offerMinutes\": 90}", (await LastAuditAsync(admin.ClinicId!.Value, "clinic.update"))!.Changes);
    }

    [Fact]
    public async Task Clears_phone_with_an_empty_string_and_reminders_with_an_empty_list()
    {
        var admin = await RegisterClinicAsync();
        await Host.Scenario(s =>
        {
            s.Patch.Json(Empty with { Phone = "+5491122334455" }).ToUrl("/api/clinics/current");
            s.WithBearerToken(admin.Token);
        });

        var result = await Host.Scenario(s =>
        {
            s.Patch.Json(Empty with { Phone = "", ReminderHours = [] }).ToUrl("/api/clinics/current");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });

        var clinic = await result.ReadAsJsonAsync<UpdateCurrentClinic.Response>();
        Assert.Null(clinic.Phone);
        Assert.Empty(clinic.ReminderHours);
        Assert.Empty(await App.ScalarAsync<int[]>("select reminder_hours from clinics where id = @ClinicId", new { admin.ClinicId }));
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s =>
        {
            s.Patch.Json(Empty with { Name = "X" }).ToUrl("/api/clinics/current");
        });
    }

    [Theory]
    [InlineData("doctor")]
    [InlineData("staff")]
    public async Task Refuses_non_admins(string role)
    {
        var admin = await RegisterClinicAsync("Sin Cambios");
        var member = await AddUserAsync(admin, role);

        var result = await Host.Scenario(s =>
        {
            s.Patch.Json(Empty with { Name = "Hacked" }).ToUrl("/api/clinics/current");
            s.WithBearerToken(member.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Forbidden);
        });

        await ErrorAsync(result, ErrorCodes.Forbidden);
        Assert.Equal("Sin Cambios", await App.ScalarAsync<string>("select name from clinics where id = @ClinicId", new { admin.ClinicId }));
    }

    [Theory]
    [InlineData("{\"name\": \"\"}", "name")]
    [InlineData("{\"timezone\": \"Mars/Olympus\"}", "timezone")]
    [InlineData("{\"timezone\": \"CET\"}", "timezone")]
    [InlineData("{\"country\": \"ar\"}", "country")]
    [InlineData("{\"currency\": \"eur\"}", "currency")]
    [InlineData("{\"currency\": \"EURO\"}", "currency")]
    [InlineData("{\"locale\": \"fr\"}", "locale")]
    [InlineData("{\"reminderHours\": [24, 24]}", "reminderHours")]
    [InlineData("{\"reminderHours\": [0]}", "reminderHours")]
    [InlineData("{\"reminderHours\": [169]}", "reminderHours")]
    [InlineData("{\"reminderHours\": [1, 2, 3, 4, 5, 6]}", "reminderHours")]
    [InlineData("{\"offerMinutes\": 4}", "offerMinutes")]
    [InlineData("{\"offerMinutes\": 1441}", "offerMinutes")]
    public async Task Rejects_bad_input_with_details(string body, string field)
    {
        var admin = await RegisterClinicAsync();

        var result = await Host.Scenario(s =>
        {
            s.Patch.Text(body).ToUrl("/api/clinics/current");
            s.WithRequestHeader("Content-Type", "application/json");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.BadRequest);
        });

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Contains(field, error.Details!.Keys);
        Assert.Null(await LastAuditAsync(admin.ClinicId!.Value, "clinic.update"));
    }
}
