using System.Net;
using System.Reflection;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Appointments;
using ClinicFlow.Tests.Support;
using Dapper;
using Npgsql;

namespace ClinicFlow.Tests.Appointments;

public sealed class ListAppointmentsTests(AppFixture app) : SchedulingTest(app)
{
    private async Task<Page<ListAppointments.Response>> ListAsync(Account caller, string query = "", IAlbaHost? host = null)
    {
        var result = await (host ?? Host).Scenario(s =>
        {
            s.Get.Url("/api/appointments" + query);
            s.WithBearerToken(caller.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        return await result.ReadAsJsonAsync<Page<ListAppointments.Response>>();
    }

    private async Task<List<Guid>> IdsAsync(Account caller, string query) => (await ListAsync(caller, query)).Items.Select(a => a.Id).ToList();

    private static string Instant(DateTimeOffset at) => Uri.EscapeDataString(at.UtcDateTime.ToString("O", System.Globalization.CultureInfo.InvariantCulture));

    private sealed record Arranged(Account Admin, Guid Ana, Guid Bruno, Guid Pia, Guid Leo, Guid[] Ids, DateTimeOffset Day);

    /// <summary>
    /// Two doctors and two patients over two days: a(Ana, Pia, 09:00 scheduled), b(Bruno, Leo, 09:00
    /// confirmed), c(Ana, Leo, 10:00 cancelled), d(Ana, Pia, next day 09:00 completed), e(Bruno, Pia, next day 11:00 no_show).
    /// </summary>
    private async Task<Arranged> ArrangeAsync()
    {
        var admin = await RegisterClinicAsync();
        var ana = await InsertDoctorAsync(admin.ClinicId, "Dra. Ana");
        var bruno = await InsertDoctorAsync(admin.ClinicId, "Dr. Bruno");
        var pia = await CreatePatientAsync(admin, "Pía");
        var leo = await CreatePatientAsync(admin, "Leo");
        var day = HoursAhead(3, 0);
        var a = await InsertAppointmentAsync(admin.ClinicId, ana, pia, day.AddHours(9), day.AddHours(9.5));
        var b = await InsertAppointmentAsync(admin.ClinicId, bruno, leo, day.AddHours(9), day.AddHours(9.5), "confirmed");
        var c = await InsertAppointmentAsync(admin.ClinicId, ana, leo, day.AddHours(10), day.AddHours(10.5), "cancelled");
        var d = await InsertAppointmentAsync(admin.ClinicId, ana, pia, day.AddHours(33), day.AddHours(33.5), "completed");
        var e = await InsertAppointmentAsync(admin.ClinicId, bruno, pia, day.AddHours(35), day.AddHours(35.5), "no_show");
        // a and b start together: their order is by id.
        var first = a.CompareTo(b) < 0 ? new[] { a, b } : [b, a];
        return new Arranged(admin, ana, bruno, pia, leo, [.. first, c, d, e], day);
    }

    [Fact]
    public async Task Lists_the_clinics_appointments_by_start_with_names_to_any_member()
    {
        var x = await ArrangeAsync();
        var staff = await AddUserAsync(x.Admin, "staff");
        var other = await RegisterClinicAsync("Other clinic");
        var theirDoctor = await InsertDoctorAsync(other.ClinicId);
        await InsertAppointmentAsync(other.ClinicId, theirDoctor, await CreatePatientAsync(other), x.Day.AddHours(9), x.Day.AddHours(10));

        var page = await ListAsync(staff);

        Assert.Null(page.NextCursor);
        Assert.Equal(x.Ids, page.Items.Select(a => a.Id));
        var d = page.Items[3];
        Assert.Equal(x.Ana, d.DoctorId);
        Assert.Equal(x.Pia, d.PatientId);
        Assert.Equal(x.Day.AddHours(33), d.StartsAt);
        Assert.Equal(x.Day.AddHours(33.5), d.EndsAt);
        Assert.Equal("completed", d.Status);
        Assert.Equal(new ListAppointments.Summary(x.Ana, "Dra. Ana"), d.Doctor);
        Assert.Equal(new ListAppointments.Summary(x.Pia, "Pía"), d.Patient);
    }

    [Fact]
    public async Task Filters_by_window_doctor_patient_and_status()
    {
        var x = await ArrangeAsync();
        var (ab, c, d, e) = (x.Ids[..2], x.Ids[2], x.Ids[3], x.Ids[4]);

        // from inclusive, to exclusive, both on startsAt.
        Assert.Equal([.. ab, c], await IdsAsync(x.Admin, $"?from={Instant(x.Day.AddHours(9))}&to={Instant(x.Day.AddHours(33))}"));
        Assert.Equal([c, d, e], await IdsAsync(x.Admin, $"?from={Instant(x.Day.AddHours(9.25))}"));
        Assert.Equal(ab, await IdsAsync(x.Admin, $"?to={Instant(x.Day.AddHours(10))}"));

        var anas = await ListAsync(x.Admin, $"?doctorId={x.Ana}");
        Assert.All(anas.Items, i => Assert.Equal(x.Ana, i.DoctorId));
        Assert.Equal(3, anas.Items.Count);
        var leos = await ListAsync(x.Admin, $"?patientId={x.Leo}");
        Assert.All(leos.Items, i => Assert.Equal(x.Leo, i.PatientId));
        Assert.Equal(2, leos.Items.Count);
        Assert.Equal([c], await IdsAsync(x.Admin, $"?doctorId={x.Ana}&patientId={x.Leo}"));

        Assert.Equal([d], await IdsAsync(x.Admin, "?status=completed"));
        Assert.Equal([c, e], await IdsAsync(x.Admin, "?status=cancelled,no_show"));
        Assert.Equal([c, e], await IdsAsync(x.Admin, "?status=" + Uri.EscapeDataString(" no_show , cancelled ")));
        Assert.Equal([e], await IdsAsync(x.Admin, $"?status=no_show,cancelled&doctorId={x.Bruno}&from={Instant(x.Day.AddDays(1))}"));
        Assert.Empty(await IdsAsync(x.Admin, $"?doctorId={Guid.CreateVersion7()}"));
    }

    [Fact]
    public async Task Walks_every_page_with_its_cursor_without_duplicates()
    {
        var admin = await RegisterClinicAsync();
        var patient = await CreatePatientAsync(admin);
        var doctors = new List<Guid>();
        for (var i = 0; i < 3; i++)
        {
            doctors.Add(await InsertDoctorAsync(admin.ClinicId, $"Doctor {i}"));
        }

        var expected = new List<(DateTimeOffset Start, Guid Id)>();
        var day = HoursAhead(2, 8);
        // Three doctors share each start time, so pages end in the middle of equal starts.
        for (var slot = 0; slot < 4; slot++)
        {
            foreach (var doctor in doctors)
            {
                var start = day.AddMinutes(30 * slot);
                expected.Add((start, await InsertAppointmentAsync(admin.ClinicId, doctor, patient, start, start.AddMinutes(30))));
            }
        }

        var seen = new List<Guid>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await ListAsync(admin, "?limit=5" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor)));
            Assert.InRange(page.Items.Count, 1, 5);
            seen.AddRange(page.Items.Select(a => a.Id));
            cursor = page.NextCursor;
            pages++;
        }
        while (cursor is not null && pages < 10);

        Assert.Equal(3, pages);
        Assert.Equal(expected.OrderBy(e => e.Start).ThenBy(e => e.Id).Select(e => e.Id), seen);
        Assert.Equal(seen.Count, seen.Distinct().Count());

        // Filters and the cursor combine: the second page of one doctor.
        var first = await ListAsync(admin, $"?doctorId={doctors[1]}&limit=2");
        var second = await ListAsync(admin, $"?doctorId={doctors[1]}&limit=2&cursor={Uri.EscapeDataString(first.NextCursor!)}");
        Assert.Null(second.NextCursor);
        Assert.Equal(expected.Where((_, i) => i % 3 == 1).Select(e => e.Id), first.Items.Concat(second.Items).Select(a => a.Id));
    }

    private async Task<IScenarioResult> GetAsync(Account caller, string query, string? ifNoneMatch = null, HttpStatusCode expected = HttpStatusCode.OK) =>
        await Host.Scenario(s =>
        {
            s.Get.Url("/api/appointments" + query);
            s.WithBearerToken(caller.Token);
            if (ifNoneMatch is not null)
            {
                s.WithRequestHeader("If-None-Match", ifNoneMatch);
            }

            s.StatusCodeShouldBe(expected);
        });

    private static string ETagOf(IScenarioResult result) => result.Context.Response.Headers.ETag.ToString();

    [Fact]
    public async Task Tags_each_page_and_answers_304_while_nothing_changed()
    {
        var x = await ArrangeAsync();
        var staff = await AddUserAsync(x.Admin, "staff");

        var first = await GetAsync(x.Admin, "");
        var etag = ETagOf(first);
        Assert.Matches("^\"[0-9a-f]{32}\"$", etag);
        Assert.Equal("private, no-cache", first.Context.Response.Headers.CacheControl.ToString());
        Assert.StartsWith("application/json", first.Context.Response.ContentType, StringComparison.Ordinal);
        Assert.Equal(x.Ids, (await first.ReadAsJsonAsync<Page<ListAppointments.Response>>()).Items.Select(a => a.Id));

        // The same page for another member of the clinic, served again: the same tag and the same body.
        var again = await GetAsync(staff, "");
        Assert.Equal(etag, ETagOf(again));
        Assert.Equal(x.Ids, (await again.ReadAsJsonAsync<Page<ListAppointments.Response>>()).Items.Select(a => a.Id));

        var notModified = await GetAsync(staff, "", etag, HttpStatusCode.NotModified);
        Assert.Equal(etag, ETagOf(notModified));
        Assert.Equal("", await notModified.ReadAsTextAsync());
        await GetAsync(staff, "", "*", HttpStatusCode.NotModified);
        await GetAsync(staff, "", "W/" + etag, HttpStatusCode.NotModified);
        await GetAsync(staff, "", "\"something-else\"");

        // Every parameter that shapes the page is in its tag.
        var tags = new HashSet<string> { etag };
        foreach (var query in new[] { "?limit=2", $"?doctorId={x.Ana}", $"?patientId={x.Pia}", "?status=scheduled",
                     $"?from={Instant(x.Day)}", $"?to={Instant(x.Day.AddHours(20))}" })
        {
            Assert.True(tags.Add(ETagOf(await GetAsync(staff, query))), query);
        }

        var page = await ListAsync(staff, "?limit=2");
        Assert.True(tags.Add(ETagOf(await GetAsync(staff, "?limit=2&cursor=" + page.NextCursor))));
    }

    [Fact]
    public async Task A_change_to_anything_a_page_shows_is_served_at_once()
    {
        var x = await ArrangeAsync();
        await InsertAlwaysOpenAsync(x.Admin.ClinicId, x.Ana);
        var etag = ETagOf(await GetAsync(x.Admin, ""));
        var seen = new HashSet<string> { etag };

        // Each change is answered 200 with the new content to the tag of the page before it, never 304.
        async Task<ListAppointments.Response[]> ChangedAsync()
        {
            var result = await GetAsync(x.Admin, "", etag);
            etag = ETagOf(result);
            Assert.True(seen.Add(etag));
            return [.. (await result.ReadAsJsonAsync<Page<ListAppointments.Response>>()).Items];
        }

        await Host.Scenario(s =>
        {
            s.Patch.Json(new { notes = "Trae estudios" }).ToUrl($"/api/appointments/{x.Ids[0]}");
            s.WithBearerToken(x.Admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        Assert.Equal("Trae estudios", (await ChangedAsync()).Single(a => a.Id == x.Ids[0]).Notes);

        await Host.Scenario(s =>
        {
            s.Patch.Json(new { fullName = "Pía Renombrada" }).ToUrl($"/api/patients/{x.Pia}");
            s.WithBearerToken(x.Admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        Assert.All((await ChangedAsync()).Where(a => a.PatientId == x.Pia), a => Assert.Equal("Pía Renombrada", a.Patient.FullName));

        await Host.Scenario(s =>
        {
            s.Patch.Json(new { fullName = "Dra. Ana Renombrada" }).ToUrl($"/api/doctors/{x.Ana}");
            s.WithBearerToken(x.Admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        Assert.All((await ChangedAsync()).Where(a => a.DoctorId == x.Ana), a => Assert.Equal("Dra. Ana Renombrada", a.Doctor.FullName));

        var booked = await Host.Scenario(s =>
        {
            s.Post.Json(new { doctorId = x.Ana, patientId = x.Leo, startsAt = x.Day.AddHours(14), durationMinutes = 30 }).ToUrl("/api/appointments");
            s.WithBearerToken(x.Admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        var bookedId = (await booked.ReadAsJsonAsync<CreateAppointment.Response>()).Id;
        Assert.Contains(bookedId, (await ChangedAsync()).Select(a => a.Id));

        // A change made outside the API (a worker, an operator) raises the version in the database as well.
        await using (var db = new NpgsqlConnection(App.AdminConnectionString))
        {
            await db.ExecuteAsync("delete from appointments where id = @bookedId", new { bookedId });
        }

        Assert.DoesNotContain(bookedId, (await ChangedAsync()).Select(a => a.Id));
        Assert.Equal(etag, ETagOf(await GetAsync(x.Admin, "", etag, HttpStatusCode.NotModified)));
    }

    [Fact]
    public async Task Two_clinics_asking_for_the_same_page_each_get_their_own()
    {
        var x = await ArrangeAsync();
        var other = await RegisterClinicAsync("Other clinic");
        var theirDoctor = await InsertDoctorAsync(other.ClinicId, "Dr. Otro");
        var theirs = await InsertAppointmentAsync(other.ClinicId, theirDoctor, await CreatePatientAsync(other), x.Day.AddHours(9), x.Day.AddHours(10));
        var query = $"?from={Instant(x.Day)}&to={Instant(x.Day.AddDays(2))}";

        var mine = await GetAsync(x.Admin, query);
        var theirPage = await GetAsync(other, query, ETagOf(mine));

        Assert.NotEqual(ETagOf(mine), ETagOf(theirPage));
        Assert.Equal([theirs], (await theirPage.ReadAsJsonAsync<Page<ListAppointments.Response>>()).Items.Select(a => a.Id));
        Assert.Equal(x.Ids, (await (await GetAsync(x.Admin, query)).ReadAsJsonAsync<Page<ListAppointments.Response>>()).Items.Select(a => a.Id));
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Get.Url("/api/appointments"));
    }

    [Theory]
    [InlineData("?from=2026-03-02T10:00:00Z&to=2026-03-02T10:00:00Z", "to")]
    [InlineData("?from=2026-03-02T10:00:00Z&to=2026-03-01T10:00:00Z", "to")]
    [InlineData("?from=yesterday", "from")]
    [InlineData("?doctorId=42", "doctorId")]
    [InlineData("?status=booked", "status")]
    [InlineData("?status=scheduled,nope", "status")]
    [InlineData("?status=,", "status")]
    [InlineData("?limit=0", "limit")]
    [InlineData("?limit=201", "limit")]
    [InlineData("?cursor=bm90LWEtY3Vyc29y", "cursor")]
    [InlineData("?cursor=%25%25%25", "cursor")]
    public async Task Rejects_bad_query_with_details(string query, string field)
    {
        var admin = await RegisterClinicAsync();

        await AssertInvalidAsync(field, s =>
        {
            s.Get.Url("/api/appointments" + query);
            s.WithBearerToken(admin.Token);
        });
    }

    [Fact]
    public async Task A_kept_page_is_never_served_past_the_gate()
    {
        var x = await ArrangeAsync();
        var staff = await AddUserAsync(x.Admin, "staff");
        var etag = ETagOf(await GetAsync(staff, ""));
        await GetAsync(staff, ""); // kept from here on
        var solo = await RegisterWithoutClinicAsync();

        await ErrorAsync(await GetAsync(solo, "", etag, HttpStatusCode.Forbidden), ErrorCodes.Forbidden);

        // The poll of a kept page still carries the fail-closed check: a deactivated member gets nothing.
        await using (var db = new NpgsqlConnection(App.AdminConnectionString))
        {
            await db.ExecuteAsync("update users set active = false where id = @UserId", new { staff.UserId });
        }

        var refused = await GetAsync(staff, "", etag, HttpStatusCode.Forbidden);
        await ErrorAsync(refused, ErrorCodes.UserInactive);
        Assert.DoesNotContain("Pía", await refused.ReadAsTextAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Another_clinics_ids_filter_to_nothing()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync("Other clinic");
        var doctor = await InsertDoctorAsync(other.ClinicId);
        var patient = await CreatePatientAsync(other);
        await InsertAppointmentAsync(other.ClinicId, doctor, patient, HoursAhead(2, 10), HoursAhead(2, 11));

        Assert.Empty((await ListAsync(admin, $"?doctorId={doctor}")).Items);
        Assert.Empty((await ListAsync(admin, $"?patientId={patient}")).Items);
        Assert.Empty((await ListAsync(admin)).Items);
    }

    /// <summary>
    /// The slice's own statements, planned as the app's prepared statements are once they go generic
    /// (parameters unknown), as the app's role with the tenant set, against a clinic among many: every
    /// filter combination walks one of the appointment indexes.
    /// </summary>
    [Fact]
    public async Task Runs_on_the_appointment_indexes_in_a_large_table()
    {
        // A database of its own: plans follow the tables' statistics, which other test classes writing
        // at the same time would shift.
        var isolated = await App.StartIsolatedAsync(new Dictionary<string, string?>());
        var admin = await RegisterClinicAsync(host: isolated.Host);
        var other = await RegisterClinicAsync("Other clinic", host: isolated.Host);
        var day = HoursAhead(1, 0);
        await using var db = new NpgsqlConnection(isolated.AdminConnectionString);
        await db.OpenAsync(Ct);
        await db.ExecuteAsync("""
            insert into doctors (id, clinic_id, full_name)
            select gen_random_uuid(), c, 'Doctor ' || n from unnest(array[@Mine, @Theirs]::uuid[]) c, generate_series(1, 20) n;
            insert into patients (id, clinic_id, full_name)
            select gen_random_uuid(), c, 'Paciente ' || n from unnest(array[@Mine, @Theirs]::uuid[]) c, generate_series(1, 200) n;
            insert into appointments (id, clinic_id, doctor_id, patient_id, starts_at, ends_at, status)
            select gen_random_uuid(), d.clinic_id, d.id, p.id, @Day::timestamptz + (s * interval '30 minutes'),
                   @Day::timestamptz + (s * interval '30 minutes') + interval '30 minutes',
                   (array['scheduled','confirmed','completed','cancelled'])[1 + s % 4]
            from (select clinic_id, id, row_number() over (partition by clinic_id order by id) as k from doctors
                  where clinic_id in (@Mine, @Theirs)) d
            join lateral (select id from patients where clinic_id = d.clinic_id order by id offset (d.k * 7) % 200 limit 1) p on true
            cross join generate_series(0, 599) s;
            analyze doctors; analyze patients; analyze appointments;
            """, new { Mine = admin.ClinicId, Theirs = other.ClinicId, Day = day });
        var doctor = await db.ExecuteScalarAsync<Guid>("select id from doctors where clinic_id = @ClinicId limit 1", new { admin.ClinicId });
        var patient = await db.ExecuteScalarAsync<Guid>(
            "select patient_id from appointments where clinic_id = @ClinicId limit 1", new { admin.ClinicId });

        static string Sql(string name) =>
            (string)typeof(ListAppointments).GetField(name, BindingFlags.NonPublic | BindingFlags.Static)!.GetRawConstantValue()!;
        var app = new NpgsqlConnectionStringBuilder(isolated.AdminConnectionString)
        {
            Username = PostgresCluster.AppRole,
            Password = PostgresCluster.AppPassword,
        };
        await using var connection = new NpgsqlConnection(app.ConnectionString);
        await connection.OpenAsync(Ct);
        await using var tx = await connection.BeginTransactionAsync(Ct);
        await connection.ExecuteAsync("select set_config('app.clinic_id', @c, true)", new { c = admin.ClinicId.ToString() }, tx);
        Assert.Contains("ix_appointments_clinic_day", await PlanAsync(connection, Sql("ClinicSql")));
        Assert.Contains("ix_appointments_doctor", await PlanAsync(connection, Sql("DoctorSql")));
        Assert.Contains("ix_appointments_patient", await PlanAsync(connection, Sql("PatientSql")));
        await tx.RollbackAsync(Ct);

        var page = await ListAsync(admin, $"?from={Instant(day.AddHours(24))}&to={Instant(day.AddHours(48))}&limit=200", isolated.Host);
        Assert.Equal(200, page.Items.Count);
        Assert.All(page.Items, a => Assert.InRange(a.StartsAt, day.AddHours(24), day.AddHours(48)));
        Assert.NotNull(page.NextCursor);
    }

    private static readonly string[] Parameters = ["ClinicId", "DoctorId", "PatientId", "Statuses", "From", "To", "AfterStart", "AfterId", "Take"];

    /// <summary>The generic plan of a statement, prepared with the parameters' types only.</summary>
    private static async Task<string> PlanAsync(NpgsqlConnection connection, string sql)
    {
        var numbered = Parameters.Select((name, i) => (name, i)).Aggregate(sql, (text, p) => text.Replace("@" + p.name, "$" + (p.i + 1), StringComparison.Ordinal));
        await connection.ExecuteAsync("set local plan_cache_mode = force_generic_plan");
        await connection.ExecuteAsync(
            "prepare list_plan (uuid, uuid, uuid, text[], timestamptz, timestamptz, timestamptz, uuid, int) as " + numbered);
        var text = string.Join('\n', await connection.QueryAsync<string>(
            "explain execute list_plan (null, null, null, null, null, null, null, null, 51)"));
        await connection.ExecuteAsync("deallocate list_plan");
        Assert.DoesNotContain("Seq Scan on appointments", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Sort", text, StringComparison.Ordinal);
        return text;
    }
}
