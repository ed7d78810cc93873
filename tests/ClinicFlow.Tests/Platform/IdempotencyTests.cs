using System.Net;
using System.Text.Json;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Patients;
using ClinicFlow.Tests.Support;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace ClinicFlow.Tests.Platform;

/// <summary>The Idempotency-Key of every POST and PATCH (Infrastructure/Idempotency.cs), through real routes.</summary>
public sealed class IdempotencyTests(AppFixture app) : ApiTest(app)
{
    private static string NewKey() => "key-" + Guid.NewGuid().ToString("N");

    private static object Patient(string fullName) => new { fullName, phone = "+5491122334455" };

    private static Task<IScenarioResult> PostPatientAsync(IAlbaHost host, Account caller, string? key, object body,
        HttpStatusCode? expected = HttpStatusCode.Created) =>
        host.Scenario(s =>
        {
            s.Post.Json(body).ToUrl("/api/patients");
            s.WithBearerToken(caller.Token);
            if (key is not null)
            {
                s.WithRequestHeader(Idempotency.Header, key);
            }

            if (expected is { } status)
            {
                s.StatusCodeShouldBe(status);
            }
            else
            {
                s.IgnoreStatusCode();
            }
        });

    private Task<int> PatientCountAsync(Guid? clinicId, string fullName) =>
        App.ScalarAsync<int>("select count(*)::int from patients where clinic_id = @clinicId and full_name = @fullName",
            new { clinicId, fullName });

    private static string? Replayed(IScenarioResult result) =>
        result.Context.Response.Headers.TryGetValue(Idempotency.ReplayedHeader, out var value) ? value.ToString() : null;

    [Fact]
    public async Task The_same_key_twice_creates_one_patient_and_replays_the_first_answer()
    {
        var admin = await RegisterClinicAsync();
        var key = NewKey();

        var first = await PostPatientAsync(Host, admin, key, Patient("Rita Retry"));
        var second = await PostPatientAsync(Host, admin, key, Patient("Rita Retry"));

        var created = await first.ReadAsJsonAsync<RegisterPatient.Response>();
        Assert.Equal("Rita Retry", created.FullName);
        Assert.Null(Replayed(first));
        Assert.Equal("true", Replayed(second));
        Assert.Equal(await first.ReadAsTextAsync(), await second.ReadAsTextAsync());
        Assert.Equal($"/api/patients/{created.Id}", second.Context.Response.Headers.Location.ToString());
        Assert.StartsWith("application/json", second.Context.Response.ContentType, StringComparison.Ordinal);

        Assert.Equal(1, await PatientCountAsync(admin.ClinicId, "Rita Retry"));
        Assert.Equal(1, await App.ScalarAsync<int>(
            "select count(*)::int from audit_log where clinic_id = @clinicId and action = 'patient.create' and entity_id = @id",
            new { clinicId = admin.ClinicId, id = created.Id.ToString() }));
        var kept = await App.QueryAsync<(string Caller, string Route, int StatusCode, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt)>(
            "select caller, route, status_code, created_at, expires_at from idempotency_keys where clinic_id = @clinicId and key = @key",
            new { clinicId = admin.ClinicId, key });
        var row = Assert.Single(kept);
        Assert.Equal($"user:{admin.UserId:D}", row.Caller);
        Assert.Equal("POST /api/patients/", row.Route);
        Assert.Equal(201, row.StatusCode);
        Assert.Equal(TimeSpan.FromHours(24), row.ExpiresAt - row.CreatedAt);
    }

    [Fact]
    public async Task The_same_key_with_another_body_is_refused_with_422()
    {
        var admin = await RegisterClinicAsync();
        var key = NewKey();
        await PostPatientAsync(Host, admin, key, Patient("Bea Body"));

        var reused = await PostPatientAsync(Host, admin, key, Patient("Bea Otherbody"), HttpStatusCode.UnprocessableEntity);

        await ErrorAsync(reused, Idempotency.KeyReused);
        Assert.Equal(1, await PatientCountAsync(admin.ClinicId, "Bea Body"));
        Assert.Equal(0, await PatientCountAsync(admin.ClinicId, "Bea Otherbody"));
    }

    [Fact]
    public async Task Twenty_concurrent_requests_with_one_key_make_exactly_one_change()
    {
        var admin = await RegisterClinicAsync();
        var key = NewKey();

        var results = await Task.WhenAll(Enumerable.Range(0, 20)
            .Select(_ => Task.Run(() => PostPatientAsync(Host, admin, key, Patient("Connie Current"), expected: null), Ct)));

        Assert.Equal(1, await PatientCountAsync(admin.ClinicId, "Connie Current"));
        var statuses = results.Select(r => r.Context.Response.StatusCode).ToList();
        Assert.All(statuses, s => Assert.True(s is 201 or 409, $"status {s}"));
        var created = results.Where(r => r.Context.Response.StatusCode == 201).ToList();
        Assert.NotEmpty(created);
        Assert.Single(created, r => Replayed(r) is null);
        var ids = new HashSet<Guid>();
        foreach (var result in created)
        {
            ids.Add((await result.ReadAsJsonAsync<RegisterPatient.Response>()).Id);
        }

        Assert.Single(ids);
        foreach (var busy in results.Where(r => r.Context.Response.StatusCode == 409))
        {
            await ErrorAsync(busy, Idempotency.InProgress);
        }

        // Once the first has committed, a retry is always the kept answer.
        var retry = await PostPatientAsync(Host, admin, key, Patient("Connie Current"));
        Assert.Equal("true", Replayed(retry));
        Assert.Equal(ids.Single(), (await retry.ReadAsJsonAsync<RegisterPatient.Response>()).Id);
    }

    [Fact]
    public async Task A_key_of_clinic_a_is_invisible_to_clinic_b()
    {
        var a = await RegisterClinicAsync("Clínica A");
        var b = await RegisterClinicAsync("Clínica B");
        var key = NewKey();

        var fromA = await PostPatientAsync(Host, a, key, Patient("Sam Shared"));
        var fromB = await PostPatientAsync(Host, b, key, Patient("Sam Shared"));

        Assert.Null(Replayed(fromB));
        Assert.NotEqual((await fromA.ReadAsJsonAsync<RegisterPatient.Response>()).Id, (await fromB.ReadAsJsonAsync<RegisterPatient.Response>()).Id);
        Assert.Equal(1, await PatientCountAsync(a.ClinicId, "Sam Shared"));
        Assert.Equal(1, await PatientCountAsync(b.ClinicId, "Sam Shared"));
        Assert.Equal(2, await App.ScalarAsync<int>("select count(*)::int from idempotency_keys where key = @key", new { key }));

        // Row-level security: the app's own role in clinic B's transaction sees none of clinic A's keys.
        await using var connection = new Npgsql.NpgsqlConnection(App.AppConnectionString);
        await connection.OpenAsync(Ct);
        await using var tx = await connection.BeginTransactionAsync(Ct);
        await Dapper.SqlMapper.ExecuteAsync(connection, "select set_config('app.clinic_id', @c, true)", new { c = b.ClinicId.ToString() }, tx);
        var visible = await Dapper.SqlMapper.QueryAsync<Guid>(connection, "select clinic_id from idempotency_keys where key = @key", new { key }, tx);
        Assert.Equal([b.ClinicId!.Value], visible);
    }

    [Fact]
    public async Task A_kept_answer_survives_a_restart_of_the_app()
    {
        var admin = await RegisterClinicAsync();
        var key = NewKey();
        var settings = App.BaseSettings(App.AppConnectionString);

        string firstBody;
        await using (var before = await AlbaHost.For<Program>(web => web.UseEnvironment("Testing"), ConfigurationOverride.Create(settings)))
        {
            firstBody = await (await PostPatientAsync(before, admin, key, Patient("Rex Restart"))).ReadAsTextAsync();
        }

        await using var after = await AlbaHost.For<Program>(web => web.UseEnvironment("Testing"), ConfigurationOverride.Create(settings));
        var replay = await PostPatientAsync(after, admin, key, Patient("Rex Restart"));

        Assert.Equal("true", Replayed(replay));
        Assert.Equal(firstBody, await replay.ReadAsTextAsync());
        Assert.Equal(1, await PatientCountAsync(admin.ClinicId, "Rex Restart"));
    }

    [Fact]
    public async Task Public_routes_keep_keys_per_client_ip()
    {
        var key = NewKey();
        var email = NewEmail("demo");
        var body = new { name = "Dora Demo", email, clinicName = "Consultorio Dora" };

        Task<IScenarioResult> PostAsync(string ip) => Host.Scenario(s =>
        {
            // Documentation addresses (RFC 5737), never a configured proxy.
            s.ConfigureHttpContext(c => c.Connection.RemoteIpAddress = IPAddress.Parse(ip));
            s.Post.Json(body).ToUrl("/api/demo-requests");
            s.WithRequestHeader(Idempotency.Header, key);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });

        var first = await PostAsync("203.0.113.50");
        var again = await PostAsync("203.0.113.50");
        var otherIp = await PostAsync("203.0.113.51");

        Assert.Null(Replayed(first));
        Assert.Equal("true", Replayed(again));
        Assert.Equal(await first.ReadAsTextAsync(), await again.ReadAsTextAsync());
        Assert.Null(Replayed(otherIp));
        Assert.Equal(2, await App.ScalarAsync<int>("select count(*)::int from demo_requests where email = @email", new { email }));
        Assert.Equal(["ip:203.0.113.50", "ip:203.0.113.51"], await App.QueryAsync<string>(
            "select caller from idempotency_keys where key = @key and clinic_id = '00000000-0000-0000-0000-000000000000' order by caller",
            new { key }));
    }

    [Theory]
    [InlineData("")]
    [InlineData("tab\tinside")]
    [InlineData("clé")]
    [InlineData("long")]
    public async Task Rejects_a_malformed_key_with_details(string key)
    {
        var admin = await RegisterClinicAsync();
        var value = key == "long" ? new string('k', 256) : key;

        await AssertInvalidAsync(Idempotency.Header, s =>
        {
            s.Post.Json(Patient("Mal Formed")).ToUrl("/api/patients");
            s.WithBearerToken(admin.Token);
            s.WithRequestHeader(Idempotency.Header, value);
        });

        Assert.Equal(0, await PatientCountAsync(admin.ClinicId, "Mal Formed"));
    }

    [Fact]
    public async Task A_key_of_255_printable_characters_is_accepted()
    {
        var admin = await RegisterClinicAsync();
        // Every printable ASCII character (0x20–0x7E) once, padded to the longest key allowed.
        var printable = new string(Enumerable.Range(0x20, 0x7F - 0x20).Select(c => (char)c).ToArray());
        var key = printable + Guid.NewGuid().ToString("N") + new string('~', 255 - printable.Length - 32);

        await PostPatientAsync(Host, admin, key, Patient("Max Length"));
        var replay = await PostPatientAsync(Host, admin, key, Patient("Max Length"));

        Assert.Equal("true", Replayed(replay));
        Assert.Equal(1, await PatientCountAsync(admin.ClinicId, "Max Length"));
    }

    [Fact]
    public async Task Error_answers_are_not_kept_so_the_key_can_be_retried()
    {
        var admin = await RegisterClinicAsync();
        var key = NewKey();

        var invalid = await PostPatientAsync(Host, admin, key, new { fullName = "" }, HttpStatusCode.BadRequest);
        await ErrorAsync(invalid, ErrorCodes.ValidationError);
        var retried = await PostPatientAsync(Host, admin, key, Patient("Fixed Later"));

        Assert.Null(Replayed(retried));
        Assert.Equal(1, await PatientCountAsync(admin.ClinicId, "Fixed Later"));
    }

    [Fact]
    public async Task Patch_replays_too_and_the_answer_is_scoped_to_the_user()
    {
        var admin = await RegisterClinicAsync();
        var staff = await AddUserAsync(admin, "staff");
        var created = await (await PostPatientAsync(Host, admin, null, Patient("Pat Patch"))).ReadAsJsonAsync<RegisterPatient.Response>();
        var key = NewKey();

        Task<IScenarioResult> PatchAsync(Account caller, string notes) => Host.Scenario(s =>
        {
            s.Patch.Json(new { notes }).ToUrl($"/api/patients/{created.Id}");
            s.WithBearerToken(caller.Token);
            s.WithRequestHeader(Idempotency.Header, key);
            s.StatusCodeShouldBeOk();
        });

        var first = await PatchAsync(admin, "first");
        var replay = await PatchAsync(admin, "first");
        var byStaff = await PatchAsync(staff, "by staff");

        Assert.Equal("true", Replayed(replay));
        Assert.Equal(await first.ReadAsTextAsync(), await replay.ReadAsTextAsync());
        Assert.Null(Replayed(byStaff));
        Assert.Equal("by staff", await App.ScalarAsync<string>("select notes from patients where id = @id", new { id = created.Id }));
    }

    [Fact]
    public async Task A_user_without_a_clinic_keeps_keys_of_its_own()
    {
        var solo = await RegisterWithoutClinicAsync();
        var other = await RegisterWithoutClinicAsync();
        var key = NewKey();

        Task<IScenarioResult> PatchAsync(Account caller, string fullName) => Host.Scenario(s =>
        {
            s.Patch.Json(new { fullName }).ToUrl("/api/users/me");
            s.WithBearerToken(caller.Token);
            s.WithRequestHeader(Idempotency.Header, key);
            s.StatusCodeShouldBeOk();
        });

        var first = await PatchAsync(solo, "Solo Renamed");
        var replay = await PatchAsync(solo, "Solo Renamed");
        var byOther = await PatchAsync(other, "Solo Renamed");

        Assert.Null(Replayed(first));
        Assert.Equal("true", Replayed(replay));
        Assert.Null(Replayed(byOther));
        var callers = await App.QueryAsync<string>(
            "select caller from idempotency_keys where key = @key and clinic_id = '00000000-0000-0000-0000-000000000000'", new { key });
        Assert.Equal(new HashSet<string> { $"user:{solo.UserId:D}", $"user:{other.UserId:D}" }, callers.ToHashSet());
        Assert.Equal(2, await App.ScalarAsync<int>(
            "select count(*)::int from users where id = any(@ids) and full_name = 'Solo Renamed'", new { ids = new[] { solo.UserId, other.UserId } }));
    }

    [Fact]
    public async Task An_expired_key_runs_again_and_the_worker_purges_expired_keys()
    {
        var admin = await RegisterClinicAsync();
        var key = NewKey();
        await PostPatientAsync(Host, admin, key, Patient("Ed Expired"));
        await App.ExecuteAsync("update idempotency_keys set expires_at = now() - interval '1 second' where key = @key", new { key });

        var again = await PostPatientAsync(Host, admin, key, Patient("Ed Expired"));
        Assert.Null(Replayed(again));
        Assert.Equal(2, await PatientCountAsync(admin.ClinicId, "Ed Expired"));

        await App.ExecuteAsync("update idempotency_keys set expires_at = now() - interval '1 second' where key = @key", new { key });
        var purger = Host.Services.GetServices<IHostedService>().OfType<IdempotencyPurger>().Single();
        Assert.True(await purger.PurgeAsync(Ct) >= 1);
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from idempotency_keys where key = @key", new { key }));
    }

    [Fact]
    public async Task Openapi_declares_the_header_on_posts_and_patches_only()
    {
        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/openapi/v1.json");
            s.StatusCodeShouldBeOk();
        });

        using var doc = JsonDocument.Parse(await result.ReadAsTextAsync());
        var paths = doc.RootElement.GetProperty("paths");
        static bool HasHeader(JsonElement operation) =>
            operation.TryGetProperty("parameters", out var parameters)
            && parameters.EnumerateArray().Any(p => p.GetProperty("name").GetString() == Idempotency.Header
                && p.GetProperty("in").GetString() == "header");

        var post = paths.GetProperty("/api/patients").GetProperty("post");
        Assert.True(HasHeader(post));
        Assert.True(post.GetProperty("responses").TryGetProperty("422", out _));
        Assert.True(HasHeader(paths.GetProperty("/api/patients/{id}").GetProperty("patch")));
        Assert.True(HasHeader(paths.GetProperty("/api/demo-requests").GetProperty("post")));
        Assert.False(HasHeader(paths.GetProperty("/api/patients").GetProperty("get")));
    }
}
