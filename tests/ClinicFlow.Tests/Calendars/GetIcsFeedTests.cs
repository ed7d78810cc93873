using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Calendars;
using ClinicFlow.Tests.Support;
using Ical.Net.CalendarComponents;
using IcalCalendar = Ical.Net.Calendar;

namespace ClinicFlow.Tests.Calendars;

/// <summary>GET /api/ics/{token}.ics (<see cref="GetIcsFeed"/>), parsed back with Ical.Net.</summary>
public sealed class GetIcsFeedTests(AppFixture app) : SchedulingTest(app)
{
    private sealed record Stored(DateTime StartsAt, DateTime EndsAt, int Sequence, DateTime UpdatedAt);

    private sealed record Arranged(Account Admin, Guid DoctorId, string Path);

    /// <summary>A clinic, its doctor and the doctor's feed path (as the app hands it out).</summary>
    private async Task<Arranged> ArrangeAsync(string clinicName = "Clínica Sur", string doctorName = "Dra. Ana Pérez")
    {
        var admin = await RegisterClinicAsync(clinicName);
        await App.ExecuteAsync("update clinics set timezone = 'America/Argentina/Buenos_Aires' where id = @id", new { id = admin.ClinicId });
        var doctorId = await InsertDoctorAsync(admin.ClinicId, doctorName);
        return new Arranged(admin, doctorId, await PathAsync(admin, doctorId));
    }

    private async Task<string> PathAsync(Account admin, Guid doctorId)
    {
        var result = await Host.Scenario(s =>
        {
            s.Get.Url($"/api/doctors/{doctorId}/ics-url");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        return new Uri((await result.ReadAsJsonAsync<GetIcsUrl.Response>()).Url).AbsolutePath;
    }

    private Task<IScenarioResult> GetAsync(string path, HttpStatusCode expected, string? ifNoneMatch = null) =>
        Host.Scenario(s =>
        {
            s.Get.Url(path);
            if (ifNoneMatch is not null)
            {
                s.WithRequestHeader("If-None-Match", ifNoneMatch);
            }

            s.StatusCodeShouldBe(expected);
        });

    private async Task<IcalCalendar> CalendarAsync(string path)
    {
        var result = await GetAsync(path, HttpStatusCode.OK);
        return IcalCalendar.Load(await result.ReadAsTextAsync())!;
    }

    private static CalendarEvent EventOf(IcalCalendar calendar, Guid appointmentId) =>
        Assert.Single(calendar.Events, e => e.Uid == $"{appointmentId}@clinicflow");

    private async Task<Stored> StoredAsync(Guid appointmentId) => (await App.QueryAsync<Stored>(
        "select starts_at, ends_at, sequence, updated_at from appointments where id = @appointmentId", new { appointmentId })).Single();

    private static DateTime Seconds(DateTime instant) =>
        new(instant.Ticks - (instant.Ticks % TimeSpan.TicksPerSecond), DateTimeKind.Utc);

    [Fact]
    public async Task Writes_the_doctors_appointments_event_by_event()
    {
        var (admin, doctorId, path) = await ArrangeAsync();
        var patient = await CreatePatientAsync(admin, "María González");
        var scheduled = await InsertAppointmentAsync(admin.ClinicId, doctorId, patient, HoursAhead(2, 13), HoursAhead(2, 14));
        var confirmed = await InsertAppointmentAsync(admin.ClinicId, doctorId, patient, HoursAhead(3, 13), HoursAhead(3, 13).AddMinutes(45), "confirmed");
        var checkedIn = await InsertAppointmentAsync(admin.ClinicId, doctorId, patient, HoursAhead(-1, 13), HoursAhead(-1, 14), "checked_in");
        var completed = await InsertAppointmentAsync(admin.ClinicId, doctorId, patient, HoursAhead(-2, 13), HoursAhead(-2, 14), "completed");
        await App.ExecuteAsync("update appointments set sequence = 3, updated_at = now() - interval '2 hours' where id = @confirmed", new { confirmed });

        var result = await GetAsync(path, HttpStatusCode.OK);

        Assert.Equal("text/calendar; charset=utf-8", result.Context.Response.ContentType);
        Assert.Equal("private, max-age=300", result.Context.Response.Headers.CacheControl.ToString());
        Assert.Matches("^\"[0-9a-f]{32}\"$", result.Context.Response.Headers.ETag.ToString());
        var calendar = IcalCalendar.Load(await result.ReadAsTextAsync())!;
        Assert.Equal("PUBLISH", calendar.Method);
        Assert.Equal("2.0", calendar.Version);
        Assert.Equal("-//ClinicFlow//Doctor calendar//EN", calendar.ProductId);
        Assert.Equal("Dra. Ana Pérez · Clínica Sur", calendar.Properties.Get<string>("X-WR-CALNAME"));
        Assert.Equal("America/Argentina/Buenos_Aires", calendar.Properties.Get<string>("X-WR-TIMEZONE"));
        Assert.Equal(4, calendar.Events.Count);
        foreach (var (id, status) in new[] { (scheduled, "TENTATIVE"), (confirmed, "CONFIRMED"), (checkedIn, "CONFIRMED"), (completed, "CONFIRMED") })
        {
            var stored = await StoredAsync(id);
            var e = EventOf(calendar, id);
            Assert.True(e.DtStart!.IsUtc);
            Assert.True(e.DtEnd!.IsUtc);
            Assert.Equal(Seconds(stored.StartsAt), e.DtStart.AsUtc);
            Assert.Equal(Seconds(stored.EndsAt), e.DtEnd.AsUtc);
            Assert.Equal(Seconds(stored.UpdatedAt), e.DtStamp!.AsUtc);
            Assert.Equal(stored.Sequence, e.Sequence);
            Assert.Equal(status, e.Status);
            Assert.Equal("M. G.", e.Summary);
            Assert.Null(e.Description);
        }

        Assert.Equal(3, EventOf(calendar, confirmed).Sequence);
        Assert.Equal(TimeSpan.FromMinutes(45), EventOf(calendar, confirmed).DtEnd!.AsUtc - EventOf(calendar, confirmed).DtStart!.AsUtc);
    }

    [Fact]
    public async Task Shows_initials_and_nothing_else_unless_the_clinic_allows_names()
    {
        var (admin, doctorId, path) = await ArrangeAsync();
        var maria = await CreatePatientAsync(admin, "María  González López", "+5491122334455");
        var single = await CreatePatientAsync(admin, "Cher");
        var withReason = await InsertAppointmentAsync(admin.ClinicId, doctorId, maria, HoursAhead(2, 13), HoursAhead(2, 14), reason: "Control de ortodoncia");
        var oneName = await InsertAppointmentAsync(admin.ClinicId, doctorId, single, HoursAhead(2, 15), HoursAhead(2, 16));
        await App.ExecuteAsync("update appointments set notes = 'Allergic to penicillin' where id = @withReason", new { withReason });

        var hidden = await GetAsync(path, HttpStatusCode.OK);
        var hiddenText = await hidden.ReadAsTextAsync();
        var hiddenCalendar = IcalCalendar.Load(hiddenText)!;

        Assert.Equal("M. L.", EventOf(hiddenCalendar, withReason).Summary);
        Assert.Equal("C.", EventOf(hiddenCalendar, oneName).Summary);
        Assert.Null(EventOf(hiddenCalendar, withReason).Description);
        foreach (var secret in new[] { "María", "González", "Control", "penicillin", "5491122334455" })
        {
            Assert.DoesNotContain(secret, hiddenText, StringComparison.Ordinal);
        }

        await App.ExecuteAsync("update clinics set ics_show_patient_names = true where id = @id", new { id = admin.ClinicId });
        var shown = await GetAsync(path, HttpStatusCode.OK);
        var shownText = await shown.ReadAsTextAsync();
        var shownCalendar = IcalCalendar.Load(shownText)!;

        Assert.Equal("María  González López", EventOf(shownCalendar, withReason).Summary);
        Assert.Equal("Control de ortodoncia", EventOf(shownCalendar, withReason).Description);
        Assert.Equal("Cher", EventOf(shownCalendar, oneName).Summary);
        Assert.Null(EventOf(shownCalendar, oneName).Description);
        Assert.DoesNotContain("penicillin", shownText, StringComparison.Ordinal);
        Assert.DoesNotContain("5491122334455", shownText, StringComparison.Ordinal);
        Assert.NotEqual(hidden.Context.Response.Headers.ETag.ToString(), shown.Context.Response.Headers.ETag.ToString());
    }

    [Fact]
    public async Task Shows_a_dash_for_an_erased_patient_whatever_the_setting()
    {
        var (admin, doctorId, path) = await ArrangeAsync();
        var patient = await CreatePatientAsync(admin, "Marta Erased");
        var appointment = await InsertAppointmentAsync(admin.ClinicId, doctorId, patient, HoursAhead(2, 13), HoursAhead(2, 14), reason: "Visit");
        await Host.Scenario(s =>
        {
            s.Delete.Url($"/api/patients/{patient}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NoContent);
        });

        Assert.Equal(GetIcsFeed.ErasedPatient, EventOf(await CalendarAsync(path), appointment).Summary);

        await App.ExecuteAsync("update clinics set ics_show_patient_names = true where id = @id", new { id = admin.ClinicId });
        var shown = EventOf(await CalendarAsync(path), appointment);
        Assert.Equal(GetIcsFeed.ErasedPatient, shown.Summary);
        Assert.Null(shown.Description);
    }

    [Fact]
    public async Task Keeps_cancellations_of_the_last_30_days_as_cancelled_and_drops_older_ones()
    {
        var (admin, doctorId, path) = await ArrangeAsync();
        var patient = await CreatePatientAsync(admin, "Pablo Ruiz");
        var recent = await InsertAppointmentAsync(admin.ClinicId, doctorId, patient, HoursAhead(5, 13), HoursAhead(5, 14), "cancelled");
        var recentNoShow = await InsertAppointmentAsync(admin.ClinicId, doctorId, patient, HoursAhead(-3, 13), HoursAhead(-3, 14), "no_show");
        var old = await InsertAppointmentAsync(admin.ClinicId, doctorId, patient, HoursAhead(6, 13), HoursAhead(6, 14), "cancelled");
        var oldNoShow = await InsertAppointmentAsync(admin.ClinicId, doctorId, patient, HoursAhead(-4, 13), HoursAhead(-4, 14), "no_show");
        await App.ExecuteAsync("update appointments set updated_at = now() - interval '5 days', sequence = 2 where id = @recent", new { recent });
        await App.ExecuteAsync("update appointments set updated_at = now() - interval '40 days' where id = any(@ids)",
            new { ids = new[] { old, oldNoShow } });

        var calendar = await CalendarAsync(path);

        Assert.Equal(2, calendar.Events.Count);
        Assert.Equal("CANCELLED", EventOf(calendar, recent).Status);
        Assert.Equal(2, EventOf(calendar, recent).Sequence);
        Assert.Equal("CANCELLED", EventOf(calendar, recentNoShow).Status);
        Assert.DoesNotContain(calendar.Events, e => e.Uid == $"{old}@clinicflow" || e.Uid == $"{oldNoShow}@clinicflow");
    }

    [Fact]
    public async Task Holds_only_this_doctors_appointments_from_30_days_back_to_180_days_ahead()
    {
        var (admin, doctorId, path) = await ArrangeAsync();
        var otherDoctor = await InsertDoctorAsync(admin.ClinicId, "Dr. Otro");
        var other = await RegisterClinicAsync();
        var otherClinicDoctor = await InsertDoctorAsync(other.ClinicId, "Dr. Ajeno");
        var patient = await CreatePatientAsync(admin, "Lucía Díaz");
        var foreignPatient = await CreatePatientAsync(other, "Otra Persona");
        var tooOld = await InsertAppointmentAsync(admin.ClinicId, doctorId, patient, HoursAhead(-31, 13), HoursAhead(-31, 14));
        var oldest = await InsertAppointmentAsync(admin.ClinicId, doctorId, patient, HoursAhead(-29, 13), HoursAhead(-29, 14), "completed");
        var furthest = await InsertAppointmentAsync(admin.ClinicId, doctorId, patient, HoursAhead(179, 13), HoursAhead(179, 14));
        var tooFar = await InsertAppointmentAsync(admin.ClinicId, doctorId, patient, HoursAhead(182, 13), HoursAhead(182, 14));
        var colleagues = await InsertAppointmentAsync(admin.ClinicId, otherDoctor, patient, HoursAhead(2, 13), HoursAhead(2, 14));
        var foreign = await InsertAppointmentAsync(other.ClinicId, otherClinicDoctor, foreignPatient, HoursAhead(2, 13), HoursAhead(2, 14));

        var calendar = await CalendarAsync(path);

        Assert.Equal(
            new[] { $"{oldest}@clinicflow", $"{furthest}@clinicflow" },
            calendar.Events.Select(e => e.Uid).Order(StringComparer.Ordinal).ToArray());
        foreach (var absent in new[] { tooOld, tooFar, colleagues, foreign })
        {
            Assert.DoesNotContain(calendar.Events, e => e.Uid == $"{absent}@clinicflow");
        }
    }

    [Fact]
    public async Task Answers_304_to_a_matching_etag_and_a_new_etag_after_a_change()
    {
        var (admin, doctorId, path) = await ArrangeAsync();
        var patient = await CreatePatientAsync(admin, "Ana Gómez");
        var appointment = await InsertAppointmentAsync(admin.ClinicId, doctorId, patient, HoursAhead(2, 13), HoursAhead(2, 14));
        await App.ExecuteAsync("update appointments set updated_at = now() - interval '1 hour' where id = @appointment", new { appointment });
        var first = await GetAsync(path, HttpStatusCode.OK);
        var etag = first.Context.Response.Headers.ETag.ToString();

        var unchanged = await GetAsync(path, HttpStatusCode.NotModified, etag);

        Assert.Equal(string.Empty, await unchanged.ReadAsTextAsync());
        Assert.Equal(etag, unchanged.Context.Response.Headers.ETag.ToString());
        Assert.Equal("private, max-age=300", unchanged.Context.Response.Headers.CacheControl.ToString());
        await GetAsync(path, HttpStatusCode.NotModified, $"\"other\", W/{etag}");
        await GetAsync(path, HttpStatusCode.OK, "\"other\"");

        await App.ExecuteAsync("""
            update appointments set status = 'confirmed', sequence = sequence + 1, updated_at = now() where id = @appointment
            """, new { appointment });
        var changed = await GetAsync(path, HttpStatusCode.OK, etag);

        var newEtag = changed.Context.Response.Headers.ETag.ToString();
        Assert.NotEqual(etag, newEtag);
        var e = EventOf(IcalCalendar.Load(await changed.ReadAsTextAsync())!, appointment);
        Assert.Equal("CONFIRMED", e.Status);
        Assert.Equal(1, e.Sequence);
        await GetAsync(path, HttpStatusCode.NotModified, newEtag);

        // A renamed patient changes the body (initials), so it changes the validator too.
        await App.ExecuteAsync("update patients set full_name = 'Berta Gómez', updated_at = now() where id = @patient", new { patient });
        var renamed = await GetAsync(path, HttpStatusCode.OK, newEtag);
        Assert.Equal("B. G.", EventOf(IcalCalendar.Load(await renamed.ReadAsTextAsync())!, appointment).Summary);
    }

    [Fact]
    public async Task A_new_appointment_changes_the_etag()
    {
        var (admin, doctorId, path) = await ArrangeAsync();
        var patient = await CreatePatientAsync(admin, "Ana Gómez");
        var empty = await GetAsync(path, HttpStatusCode.OK);
        Assert.Empty(IcalCalendar.Load(await empty.ReadAsTextAsync())!.Events);
        var etag = empty.Context.Response.Headers.ETag.ToString();

        var appointment = await InsertAppointmentAsync(admin.ClinicId, doctorId, patient, HoursAhead(2, 13), HoursAhead(2, 14));

        var changed = await GetAsync(path, HttpStatusCode.OK, etag);
        Assert.NotEqual(etag, changed.Context.Response.Headers.ETag.ToString());
        EventOf(IcalCalendar.Load(await changed.ReadAsTextAsync())!, appointment);
    }

    /// <summary>
    /// A change committed with an older now() than the newest row (two transactions finishing out of
    /// order) still changes the validator, and the re-rendered body is served, not a kept copy.
    /// </summary>
    [Fact]
    public async Task A_change_that_does_not_move_the_last_update_time_still_reaches_the_feed()
    {
        var (admin, doctorId, path) = await ArrangeAsync();
        var patient = await CreatePatientAsync(admin, "Ana Gómez");
        var early = await InsertAppointmentAsync(admin.ClinicId, doctorId, patient, HoursAhead(2, 13), HoursAhead(2, 14));
        var late = await InsertAppointmentAsync(admin.ClinicId, doctorId, patient, HoursAhead(3, 13), HoursAhead(3, 14));
        await App.ExecuteAsync("""
            update appointments set updated_at = now() - interval '2 hours' where id = @early;
            update appointments set updated_at = now() where id = @late;
            """, new { early, late });
        var first = await GetAsync(path, HttpStatusCode.OK);
        var etag = first.Context.Response.Headers.ETag.ToString();
        Assert.Equal(0, EventOf(IcalCalendar.Load(await first.ReadAsTextAsync())!, early).Sequence);

        await App.ExecuteAsync("""
            update appointments set status = 'confirmed', sequence = sequence + 1, updated_at = now() - interval '1 hour'
            where id = @early
            """, new { early });

        var plain = await GetAsync(path, HttpStatusCode.OK);
        Assert.NotEqual(etag, plain.Context.Response.Headers.ETag.ToString());
        var e = EventOf(IcalCalendar.Load(await plain.ReadAsTextAsync())!, early);
        Assert.Equal(("CONFIRMED", 1), (e.Status, e.Sequence));
        await GetAsync(path, HttpStatusCode.OK, etag);
    }

    [Fact]
    public async Task Serves_the_same_body_again_until_the_content_changes()
    {
        var (admin, doctorId, path) = await ArrangeAsync();
        var patient = await CreatePatientAsync(admin, "Ana Gómez");
        await InsertAppointmentAsync(admin.ClinicId, doctorId, patient, HoursAhead(2, 13), HoursAhead(2, 14));

        var first = await (await GetAsync(path, HttpStatusCode.OK)).ReadAsTextAsync();
        var again = await GetAsync(path, HttpStatusCode.OK);

        Assert.Equal(first, await again.ReadAsTextAsync());
        Assert.Equal(System.Text.Encoding.UTF8.GetByteCount(first), again.Context.Response.ContentLength);
        var added = await InsertAppointmentAsync(admin.ClinicId, doctorId, patient, HoursAhead(4, 13), HoursAhead(4, 14));
        EventOf(await CalendarAsync(path), added);
    }

    /// <summary>The database raises a doctor's calendar version exactly when their feed can change.</summary>
    [Fact]
    public async Task The_calendar_version_follows_what_the_feed_shows()
    {
        var (admin, doctorId, _) = await ArrangeAsync();
        var otherDoctor = await InsertDoctorAsync(admin.ClinicId, "Dr. Otro");
        var patient = await CreatePatientAsync(admin, "Ana Gómez");
        var bystander = await InsertDoctorAsync(admin.ClinicId, "Dr. Ajeno");
        async Task<(long Mine, long Other, long Bystander)> VersionsAsync()
        {
            var rows = (await App.QueryAsync<(Guid Id, long Version)>(
                "select id, calendar_version from doctors where clinic_id = @ClinicId", new { admin.ClinicId })).ToDictionary(r => r.Id, r => r.Version);
            return (rows[doctorId], rows[otherDoctor], rows[bystander]);
        }

        var appointment = await InsertAppointmentAsync(admin.ClinicId, doctorId, patient, HoursAhead(2, 13), HoursAhead(2, 14));
        Assert.Equal((1L, 0L, 0L), await VersionsAsync());

        await App.ExecuteAsync("update appointments set doctor_id = @otherDoctor where id = @appointment", new { otherDoctor, appointment });
        Assert.Equal((2L, 1L, 0L), await VersionsAsync());

        await App.ExecuteAsync("update patients set full_name = 'Berta Gómez' where id = @patient", new { patient });
        Assert.Equal((2L, 2L, 0L), await VersionsAsync());

        await App.ExecuteAsync("update patients set notes = 'no change in any calendar' where id = @patient", new { patient });
        Assert.Equal((2L, 2L, 0L), await VersionsAsync());

        await App.ExecuteAsync("delete from appointments where id = @appointment", new { appointment });
        Assert.Equal((2L, 3L, 0L), await VersionsAsync());
    }

    [Fact]
    public async Task An_unknown_token_is_not_found_with_the_error_contract()
    {
        var result = await GetAsync("/api/ics/" + SecretBox.NewToken() + ".ics", HttpStatusCode.NotFound);

        await ErrorAsync(result, ErrorCodes.NotFound);
        Assert.False(result.Context.Response.Headers.ContainsKey("ETag"));
    }

    [Fact]
    public async Task A_deactivated_doctors_feed_is_not_found()
    {
        var (_, doctorId, path) = await ArrangeAsync();
        await App.ExecuteAsync("update doctors set active = false where id = @doctorId", new { doctorId });

        var result = await GetAsync(path, HttpStatusCode.NotFound);

        await ErrorAsync(result, ErrorCodes.NotFound);
    }

    [Fact]
    public async Task Streams_a_doctors_5000_appointments()
    {
        var (admin, doctorId, path) = await ArrangeAsync();
        var patient = await CreatePatientAsync(admin, "Rosa Vega");
        await App.ExecuteAsync("""
            insert into appointments (id, clinic_id, doctor_id, patient_id, starts_at, ends_at, status, sequence)
            select gen_random_uuid(), @ClinicId, @doctorId, @patient,
                   date_trunc('hour', now()) - interval '29 days' + n * interval '50 minutes',
                   date_trunc('hour', now()) - interval '29 days' + n * interval '50 minutes' + interval '30 minutes',
                   'confirmed', n % 5
            from generate_series(0, 4999) n
            """, new { admin.ClinicId, doctorId, patient });

        var calendar = await CalendarAsync(path);

        Assert.Equal(5000, calendar.Events.Count);
        Assert.Equal(5000, calendar.Events.Select(e => e.Uid).Distinct().Count());
        Assert.All(calendar.Events, e => Assert.Equal("R. V.", e.Summary));
        var starts = calendar.Events.Select(e => e.DtStart!.AsUtc).ToList();
        Assert.Equal(starts.Order().ToList(), starts);
    }

    [Fact]
    public async Task Is_rate_limited_per_client_ip()
    {
        var host = await App.StartHostAsync(new Dictionary<string, string?> { ["RateLimits:Ics:PermitLimit"] = "2" });
        var path = "/api/ics/" + SecretBox.NewToken() + ".ics";
        for (var i = 0; i < 2; i++)
        {
            await host.Scenario(s =>
            {
                s.Get.Url(path);
                s.StatusCodeShouldBe(HttpStatusCode.NotFound);
            });
        }

        var limited = await host.Scenario(s =>
        {
            s.Get.Url(path);
            s.StatusCodeShouldBe(HttpStatusCode.TooManyRequests);
        });

        await ErrorAsync(limited, ErrorCodes.RateLimited);
        Assert.False(string.IsNullOrEmpty(limited.Context.Response.Headers.RetryAfter.ToString()));
    }
}
