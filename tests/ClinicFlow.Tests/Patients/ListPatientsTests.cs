using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Patients;
using ClinicFlow.Tests.Support;
using Npgsql;

namespace ClinicFlow.Tests.Patients;

public sealed class ListPatientsTests(AppFixture app) : ApiTest(app)
{
    private static readonly string[] PhonePatterns = ["%1122334455%"];

    private async Task<Page<ListPatients.Response>> ListAsync(Account caller, string query = "", IAlbaHost? host = null)
    {
        var result = await (host ?? Host).Scenario(s =>
        {
            s.Get.Url("/api/patients" + query);
            s.WithBearerToken(caller.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        return await result.ReadAsJsonAsync<Page<ListPatients.Response>>();
    }

    private async Task<IEnumerable<string>> NamesAsync(Account caller, string q, IAlbaHost? host = null) =>
        (await ListAsync(caller, "?q=" + Uri.EscapeDataString(q), host)).Items.Select(p => p.FullName);

    [Fact]
    public async Task Lists_the_clinics_patients_only_to_any_member()
    {
        var admin = await RegisterClinicAsync();
        var staff = await AddUserAsync(admin, "staff");
        var other = await RegisterClinicAsync("Other clinic");
        var first = await Host.AddPatientAsync(admin, new { fullName = "Ana Pérez", phone = "+5491122334455", documentId = "1" });
        var second = await Host.AddPatientAsync(admin, new { fullName = "Bruno Díaz" });
        await Host.AddPatientAsync(other, new { fullName = "Carla Otra" });

        var page = await ListAsync(staff);

        Assert.Null(page.NextCursor);
        Assert.Equal([first.Id, second.Id], page.Items.Select(p => p.Id));
        Assert.Equal("Ana Pérez", page.Items[0].FullName);
        Assert.Equal("+5491122334455", page.Items[0].Phone);
        Assert.Equal("1", page.Items[0].DocumentId);
    }

    [Fact]
    public async Task Searches_accent_and_case_insensitively_within_the_clinic()
    {
        var admin = await RegisterClinicAsync();
        var other = await RegisterClinicAsync("Other clinic");
        await Host.AddPatientAsync(admin, new { fullName = "José Núñez" });
        await Host.AddPatientAsync(admin, new { fullName = "Marta Gómez" });
        await Host.AddPatientAsync(other, new { fullName = "José Núñez" });

        Assert.Equal(["José Núñez"], await NamesAsync(admin, "jose nunez"));
        Assert.Equal(["José Núñez"], await NamesAsync(admin, "NÚÑEZ"));
        Assert.Equal(["José Núñez"], await NamesAsync(admin, "  José   Núñez "));
        Assert.Empty(await NamesAsync(other, "marta"));
        Assert.Equal(2, (await ListAsync(admin, "?q=")).Items.Count);
    }

    [Fact]
    public async Task Searches_email_document_id_and_phone_digits()
    {
        var admin = await RegisterClinicAsync();
        await Host.AddPatientAsync(admin, new { fullName = "Ana", phone = "011 2233-4455", email = "Ana.Mail@Example.com" });
        await Host.AddPatientAsync(admin, new { fullName = "Beto", documentId = "DNI-30111222" });

        Assert.Equal(["Ana"], await NamesAsync(admin, "ana.mail@example"));
        Assert.Equal(["Beto"], await NamesAsync(admin, "dni-3011"));
        Assert.Equal(["Ana"], await NamesAsync(admin, "2233-4455"));
        Assert.Equal(["Ana"], await NamesAsync(admin, "011 2233 4455"));
        Assert.Equal(["Ana"], await NamesAsync(admin, "+541122334455"));
    }

    [Fact]
    public async Task Treats_like_wildcards_in_the_search_as_text()
    {
        var admin = await RegisterClinicAsync();
        await Host.AddPatientAsync(admin, new { fullName = "Ana" });
        await Host.AddPatientAsync(admin, new { fullName = "100% Real_Name" });

        Assert.Equal(["100% Real_Name"], await NamesAsync(admin, "%"));
        Assert.Empty(await NamesAsync(admin, "a_a"));
        Assert.Equal(["100% Real_Name"], await NamesAsync(admin, "0% real_"));
    }

    [Fact]
    public async Task Leaves_erased_patients_out()
    {
        var admin = await RegisterClinicAsync();
        var erased = await Host.AddPatientAsync(admin, new { fullName = "Gone Person" });
        await Host.AddPatientAsync(admin, new { fullName = "Kept Person" });
        await App.EraseAsync(erased.Id);

        Assert.Equal(["Kept Person"], (await ListAsync(admin)).Items.Select(p => p.FullName));
        Assert.Empty(await NamesAsync(admin, "gone"));
    }

    [Fact]
    public async Task Filters_by_blocked()
    {
        var admin = await RegisterClinicAsync();
        var blocked = await Host.AddPatientAsync(admin, new { fullName = "Blocked One" });
        var free = await Host.AddPatientAsync(admin, new { fullName = "Free One" });
        await App.ExecuteAsync("update patients set blocked = true, blocked_reason = 'x', blocked_at = now() where id = @Id", new { blocked.Id });

        Assert.Equal([blocked.Id], (await ListAsync(admin, "?blocked=true")).Items.Select(p => p.Id));
        Assert.Equal([free.Id], (await ListAsync(admin, "?blocked=false")).Items.Select(p => p.Id));
        Assert.Equal([blocked.Id], (await ListAsync(admin, "?blocked=true&q=one")).Items.Select(p => p.Id));
    }

    [Fact]
    public async Task Pages_with_a_keyset_cursor()
    {
        var admin = await RegisterClinicAsync();
        var ids = new List<Guid>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add((await Host.AddPatientAsync(admin, new { fullName = $"Paciente {i}" })).Id);
        }

        var first = await ListAsync(admin, "?q=paciente&limit=2");
        var second = await ListAsync(admin, "?q=paciente&limit=2&cursor=" + first.NextCursor);
        var third = await ListAsync(admin, "?q=paciente&limit=2&cursor=" + second.NextCursor);

        Assert.NotNull(second.NextCursor);
        Assert.Null(third.NextCursor);
        Assert.Equal(ids, first.Items.Concat(second.Items).Concat(third.Items).Select(p => p.Id));
    }

    [Fact]
    public async Task Search_reads_only_the_clinics_rows_among_many_as_the_apps_role()
    {
        // A database of its own: the plan depends on the table's statistics, which other test classes
        // writing patients at the same time would shift.
        var isolated = await App.StartIsolatedAsync(new Dictionary<string, string?>());
        var admin = await RegisterClinicAsync(host: isolated.Host);
        await using var connection = new NpgsqlConnection(isolated.AdminConnectionString);
        await connection.OpenAsync(Ct);
        // The clinic among 50 on a shared server, 2 000 patients each, rows interleaved as they arrive.
        await using (var seed = new NpgsqlCommand("""
            insert into clinics (id, name, timezone, country, currency, locale)
            select gen_random_uuid(), 'Clinic ' || n, 'Europe/Berlin', 'DE', 'EUR', 'de' from generate_series(1, 49) n;
            insert into patients (id, clinic_id, full_name, phone, document_id)
            select gen_random_uuid(), c.id, 'Paciente ' || n, '+54911' || lpad(n::text, 8, '0'), 'DNI' || n
            from generate_series(1, 2000) n,
                 (select id from clinics where id = @clinic or name like 'Clinic %') c;
            """, connection))
        {
            seed.Parameters.AddWithValue("clinic", admin.ClinicId!.Value);
            await seed.ExecuteNonQueryAsync(Ct);
        }

        // As the app runs it: its role, so row-level security applies, with the tenant set.
        await using var transaction = await connection.BeginTransactionAsync(Ct);
        await using (var role = new NpgsqlCommand(
            $"set local role {PostgresCluster.AppRole}; select set_config('app.clinic_id', @clinic::text, true)", connection, transaction))
        {
            role.Parameters.AddWithValue("clinic", admin.ClinicId!.Value);
            await role.ExecuteNonQueryAsync(Ct);
        }

        await using var explain = new NpgsqlCommand("""
            explain select id from patients
            where clinic_id = @clinic and erased_at is null and id > @after
              and (search_text like all (array['%jose%', '%nunez%']) or search_text like any (@phones::text[]))
            order by id limit 51
            """, connection, transaction);
        explain.Parameters.AddWithValue("clinic", admin.ClinicId!.Value);
        explain.Parameters.AddWithValue("after", Guid.Empty);
        explain.Parameters.AddWithValue("phones", PhonePatterns);
        var plan = new List<string>();
        await using (var reader = await explain.ExecuteReaderAsync(Ct))
        {
            while (await reader.ReadAsync(Ct))
            {
                plan.Add(reader.GetString(0));
            }
        }

        await transaction.RollbackAsync(Ct);
        // LIKE is no index condition under row-level security (not leakproof), whichever index the
        // planner takes; what the index must give is the clinic's rows alone.
        var text = string.Join('\n', plan);
        Assert.Matches(@"Index Cond: \(+clinic_id = ", text);
        Assert.DoesNotContain("Seq Scan", text, StringComparison.Ordinal);
        Assert.Equal(["Paciente 1234"], await NamesAsync(admin, "paciente 1234", isolated.Host));
        Assert.Equal(["Paciente 1234"], await NamesAsync(admin, "1234 paciente", isolated.Host));
        Assert.Equal(["Paciente 1999"], await NamesAsync(admin, "dni1999", isolated.Host));
        Assert.Empty(await NamesAsync(admin, "paciente 2001", isolated.Host));
    }

    [Fact]
    public async Task Finds_the_words_in_any_order()
    {
        var admin = await RegisterClinicAsync();
        var jose = await Host.AddPatientAsync(admin, new { fullName = "José Núñez", phone = "+5491122334455" });
        var ana = await Host.AddPatientAsync(admin, new { fullName = "Ana Núñez Pérez" });
        await Host.AddPatientAsync(admin, new { fullName = "Josefina Gómez" });

        var page = await ListAsync(admin, "?q=" + Uri.EscapeDataString("nunez jose"));

        Assert.Null(page.NextCursor);
        var found = Assert.Single(page.Items);
        Assert.Equal(jose.Id, found.Id);
        Assert.Equal("José Núñez", found.FullName);
        Assert.Equal("+5491122334455", found.Phone);
        Assert.Equal(["José Núñez"], await NamesAsync(admin, "NÚÑEZ JOSÉ"));
        Assert.Equal(["José Núñez"], await NamesAsync(admin, "núñez 4455"));
        Assert.Equal([jose.Id, ana.Id], (await ListAsync(admin, "?q=nunez")).Items.Select(p => p.Id));
        Assert.Equal([ana.Id], (await ListAsync(admin, "?q=" + Uri.EscapeDataString("perez ana nunez"))).Items.Select(p => p.Id));
        Assert.Empty(await NamesAsync(admin, "nunez gomez"));
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s =>
        {
            s.Get.Url("/api/patients");
        });
    }

    [Theory]
    [InlineData("?limit=0", "limit")]
    [InlineData("?limit=201", "limit")]
    [InlineData("?cursor=bm90LWEtZ3VpZA", "cursor")]
    [InlineData("?blocked=maybe", "blocked")]
    public async Task Rejects_bad_query_with_details(string query, string field)
    {
        var admin = await RegisterClinicAsync();

        await AssertInvalidAsync(field, s =>
        {
            s.Get.Url("/api/patients" + query);
            s.WithBearerToken(admin.Token);
        });
    }

    [Fact]
    public async Task Rejects_an_overlong_search()
    {
        var admin = await RegisterClinicAsync();

        var result = await Host.Scenario(s =>
        {
            s.Get.Url("/api/patients?q=" + new string('a', 201));
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.BadRequest);
        });

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Equal(["q"], error.Details!.Keys);
    }
}
