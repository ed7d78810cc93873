using System.Globalization;
using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Appointments;
using ClinicFlow.Slices.Patients;
using ClinicFlow.Tests.Support;
using Dapper;
using Npgsql;

namespace ClinicFlow.Tests.Platform;

/// <summary>
/// What a request costs on the wire to PostgreSQL, counted off the protocol by a proxy between the
/// app and the database: the tenant gate (settings and the fail-closed check) travels with the
/// handler's first statement, a read needs no BEGIN or COMMIT, a write no round trip for its BEGIN.
/// </summary>
public sealed class RoundTripTests(AppFixture app) : ApiTest(app)
{
    [Fact]
    public async Task A_tenant_read_is_one_round_trip_and_a_write_pays_none_for_its_gate()
    {
        var target = new NpgsqlConnectionStringBuilder(App.Cluster.AdminConnectionString);
        var database = "clinicflow_test_wire_" + Guid.NewGuid().ToString("N")[..8];
        await using var proxy = new TcpProxy(target.Port);
        var appCs = new NpgsqlConnectionStringBuilder(await App.Cluster.CreateDatabaseAsync(database))
        {
            Port = proxy.Port,
            SslMode = SslMode.Disable,
        };
        var isolated = await App.StartIsolatedAsync(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = appCs.ConnectionString,
            // The background workers stay quiet, so the proxy sees the requests alone.
            ["Outbox:Enabled"] = "false",
            ["WhatsApp:InboxPollSeconds"] = "3600",
            ["Waitlist:IntervalSeconds"] = "3600",
            ["Retention:IntervalSeconds"] = "3600",
        });
        var host = isolated.Host;
        var admin = await RegisterClinicAsync(host: host);
        var created = await host.Scenario(s =>
        {
            s.Post.Json(new { fullName = "Ana Wire" }).ToUrl("/api/patients");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        var patientId = (await created.ReadAsJsonAsync<RegisterPatient.Response>()).Id;

        // Settings + check + the profile query: three statements, one round trip, no BEGIN/COMMIT
        // (the one simple query is the pool's DISCARD ALL, sent in the same message).
        var me = await FewestAsync(proxy, () => host.Scenario(s =>
        {
            s.Get.Url("/api/auth/me");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        }));
        Assert.Equal((1L, 3L, 1L), me);

        var get = await FewestAsync(proxy, () => host.Scenario(s =>
        {
            s.Get.Url($"/api/patients/{patientId}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        }));
        Assert.Equal((1L, 3L, 1L), get);

        // A write: BEGIN (a simple query in the first message), settings + check + insert, then the
        // audit entry and COMMIT in one message: two round trips (the gate once took two of its own,
        // and the audit one more).
        var post = await FewestAsync(proxy, () => host.Scenario(s =>
        {
            s.Post.Json(new { fullName = "Otro Wire" }).ToUrl("/api/patients");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        }));
        Assert.Equal(2L, post.RoundTrips);

        // A booking: BEGIN + settings + check with the patient, the doctor's lock and the schedule;
        // the insert with the answer and the reminders' context; the audit entry and COMMIT.
        var doctorId = Guid.CreateVersion7();
        await using (var db = new NpgsqlConnection(App.Cluster.AdminConnectionStringFor(database)))
        {
            await db.ExecuteAsync("insert into doctors (id, clinic_id, full_name) values (@doctorId, @ClinicId, 'Dra. Wire')",
                new { doctorId, admin.ClinicId });
            await db.ExecuteAsync("""
                insert into doctor_weekly_hours (clinic_id, doctor_id, weekday, starts_at, ends_at)
                select @ClinicId, @doctorId, d::smallint, '00:00'::time, '23:59'::time from generate_series(1, 7) d
                """, new { doctorId, admin.ClinicId });
        }

        var day = new DateTimeOffset(DateTime.UtcNow.Date.AddDays(3), TimeSpan.Zero);
        var bookings = 0;
        var booking = await FewestAsync(proxy, () => host.Scenario(s =>
        {
            s.Post.Json(new { doctorId, patientId, startsAt = day.AddHours(8 + bookings++), durationMinutes = 30 }).ToUrl("/api/appointments");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        }));
        Assert.Equal(3L, booking.RoundTrips);
        await using (var db = new NpgsqlConnection(App.Cluster.AdminConnectionStringFor(database)))
        {
            Assert.Equal(4L, await db.ExecuteScalarAsync<long>("select count(*) from appointments where doctor_id = @doctorId", new { doctorId }));
            Assert.Equal(4L, await db.ExecuteScalarAsync<long>("select count(*) from audit_log where action = 'appointment.create'"));
        }

        // With WhatsApp on, the reminders' insert travels with COMMIT too: still three.
        await host.Scenario(s =>
        {
            s.Put.Json(new { phoneNumberId = Random.Shared.NextInt64(100_000_000_000, 999_999_999_999).ToString(CultureInfo.InvariantCulture),
                businessAccountId = "2233445566", accessToken = "EAAG-wire-access-token-0123456789", enabled = true }).ToUrl("/api/clinics/current/whatsapp");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        var reachable = await host.Scenario(s =>
        {
            s.Post.Json(new { fullName = "Eva Wire", phone = "+5491122334455" }).ToUrl("/api/patients");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        var reachableId = (await reachable.ReadAsJsonAsync<RegisterPatient.Response>()).Id;
        var reminded = await FewestAsync(proxy, () => host.Scenario(s =>
        {
            s.Post.Json(new { doctorId, patientId = reachableId, startsAt = day.AddHours(8 + bookings++), durationMinutes = 30 })
                .ToUrl("/api/appointments");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        }));
        Assert.Equal(3L, reminded.RoundTrips);
        await using (var db = new NpgsqlConnection(App.Cluster.AdminConnectionStringFor(database)))
        {
            // Two reminders per booking (the clinic's default hours, 24 and 2), for the reachable patient only.
            Assert.Equal(8L, await db.ExecuteScalarAsync<long>(
                "select count(*) from outbox_messages where kind = 'reminder' and patient_id = @reachableId", new { reachableId }));
            Assert.Equal(8L, await db.ExecuteScalarAsync<long>("select count(*) from outbox_messages where kind = 'reminder'"));
        }

        // A series costs the same round trips whatever its length: the occurrences go in one insert,
        // their reminders' contexts come in one read, their audit entries and reminders with COMMIT.
        var seriesDay = day.AddDays(1);
        var series = 0;
        async Task<long> SeriesAsync(int count) => (await FewestAsync(proxy, () => host.Scenario(s =>
        {
            s.Post.Json(new { doctorId, patientId = reachableId, startsAt = seriesDay.AddHours(8 + series++), durationMinutes = 30,
                recurrence = $"FREQ=DAILY;COUNT={count}" }).ToUrl("/api/appointments/series");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        }))).RoundTrips;
        Assert.Equal(await SeriesAsync(2), await SeriesAsync(8));
        await using (var db = new NpgsqlConnection(App.Cluster.AdminConnectionStringFor(database)))
        {
            // 4 × 2 + 4 × 8 occurrences, two reminders each, on top of the single bookings' 8.
            Assert.Equal(8L + (40L * 2), await db.ExecuteScalarAsync<long>("select count(*) from outbox_messages where kind = 'reminder'"));
        }

        // A clinic's day as a phone polls it: once kept, an unchanged page is the version's read alone
        // (settings, check, version: three statements, one round trip); after a change the rows
        // follow in a second round trip, and without a kept page they come with the version.
        var dayQuery = "/api/appointments?from=" + Uri.EscapeDataString(day.ToString("O", CultureInfo.InvariantCulture))
            + "&to=" + Uri.EscapeDataString(day.AddDays(1).ToString("O", CultureInfo.InvariantCulture));
        Task<IScenarioResult> DayAsync(string query) => host.Scenario(s =>
        {
            s.Get.Url(query);
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        var windows = 0;
        Assert.Equal((1L, 4L, 1L), await FewestAsync(proxy, () =>
            DayAsync(dayQuery + "&limit=" + (100 - windows++).ToString(CultureInfo.InvariantCulture)))); // each ask a page of its own: never kept
        await DayAsync(dayQuery);
        await DayAsync(dayQuery); // kept from the second ask on
        Assert.Equal((1L, 3L, 1L), await FewestAsync(proxy, () => DayAsync(dayQuery)));
        var changed = await FewestAsync(proxy, async () =>
        {
            await using (var db = new NpgsqlConnection(App.Cluster.AdminConnectionStringFor(database)))
            {
                await db.ExecuteAsync("update doctors set calendar_version = calendar_version + 1 where id = @doctorId", new { doctorId });
            }

            await DayAsync(dayQuery);
        });
        Assert.Equal((2L, 5L, 1L), changed); // the rows with the settings again: a read runs without BEGIN
        await using (var db = new NpgsqlConnection(App.Cluster.AdminConnectionStringFor(database)))
        {
            Assert.Equal(await db.ExecuteScalarAsync<long>("select count(*) from appointments where starts_at >= @day and starts_at < @end",
                    new { day, end = day.AddDays(1) }),
                (await (await DayAsync(dayQuery)).ReadAsJsonAsync<Page<ListAppointments.Response>>()).Items.Count);
        }

        // The clinic's country comes with the gate's check, so a national phone number read after the
        // first statement costs no round trip of its own (it once read the clinic's country first).
        var edits = 0;
        var renamed = await FewestAsync(proxy, () => host.Scenario(s =>
        {
            s.Patch.Json(new { fullName = "Ana Wire " + edits++ }).ToUrl($"/api/patients/{patientId}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        }));
        var rephoned = await FewestAsync(proxy, () => host.Scenario(s =>
        {
            s.Patch.Json(new { phone = "011 2233-" + (4400 + edits++).ToString(CultureInfo.InvariantCulture) }).ToUrl($"/api/patients/{patientId}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        }));
        Assert.Equal(renamed.RoundTrips, rephoned.RoundTrips);
        await using (var db = new NpgsqlConnection(App.Cluster.AdminConnectionStringFor(database)))
        {
            Assert.Equal("+54112233" + (4400 + edits - 1).ToString(CultureInfo.InvariantCulture),
                await db.ExecuteScalarAsync<string>("select phone from patients where id = @patientId", new { patientId }));
        }

        // A refusal costs the same one round trip and answers before anything of the handler's.
        await using (var db = new NpgsqlConnection(App.Cluster.AdminConnectionStringFor(database)))
        {
            await db.ExecuteAsync("update users set active = false where id = @UserId", new { admin.UserId });
        }

        var refused = await FewestAsync(proxy, () => host.Scenario(s =>
        {
            s.Get.Url($"/api/patients/{patientId}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Forbidden);
            s.ContentShouldNotContain("Ana Wire");
        }));
        Assert.Equal(1L, refused.RoundTrips);
    }

    // The fewest round trips over a few tries, then the fewest statements: anything else on the wire
    // (a pool's first connection, a worker's poll) only ever adds.
    private static async Task<(long RoundTrips, long Executes, long SimpleQueries)> FewestAsync(TcpProxy proxy, Func<Task> request)
    {
        (long RoundTrips, long Executes, long SimpleQueries)? fewest = null;
        for (var i = 0; i < 4; i++)
        {
            var before = proxy.Wire.Snapshot();
            await request();
            var after = proxy.Wire.Snapshot();
            var used = (after.RoundTrips - before.RoundTrips, after.Executes - before.Executes, after.SimpleQueries - before.SimpleQueries);
            if (fewest is null || used.Item1 < fewest.Value.RoundTrips
                || (used.Item1 == fewest.Value.RoundTrips && used.Item2 < fewest.Value.Executes))
            {
                fewest = used;
            }
        }

        return fewest!.Value;
    }
}
