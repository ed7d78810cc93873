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
    public async Task Search_in_a_large_clinic_uses_the_trigram_index()
    {
        // A database of its own: the plan depends on the table's statistics, which other test classes
        // writing patients at the same time would shift.
        var isolated = await App.StartIsolatedAsync(new Dictionary<string, string?>());
        var admin = await RegisterClinicAsync(host: isolated.Host);
        await using var connection = new NpgsqlConnection(isolated.AdminConnectionString);
        await connection.OpenAsync(Ct);
        await using (var seed = new NpgsqlCommand("""
            insert into patients (id, clinic_id, full_name, phone, document_id)
            select gen_random_uuid(), @clinic, 'Paciente ' || n, '+54911' || lpad(n::text, 8, '0'), 'DNI' || n
            from generate_series(1, 20000) n;
            analyze patients;
            """, connection))
        {
            seed.Parameters.AddWithValue("clinic", admin.ClinicId!.Value);
            await seed.ExecuteNonQueryAsync(Ct);
        }

        await using var explain = new NpgsqlCommand("""
            explain select id from patients
            where clinic_id = @clinic and erased_at is null
              and (@text::text is null
                   or search_text like '%' || lower(immutable_unaccent(@text::text)) || '%'
                   or search_text like any (@phones::text[]))
            order by id limit 51
            """, connection);
        explain.Parameters.AddWithValue("clinic", admin.ClinicId!.Value);
        explain.Parameters.AddWithValue("text", "jose%nunez");
        explain.Parameters.AddWithValue("phones", PhonePatterns);
        var plan = new List<string>();
        await using (var reader = await explain.ExecuteReaderAsync(Ct))
        {
            while (await reader.ReadAsync(Ct))
            {
                plan.Add(reader.GetString(0));
            }
        }

        Assert.True(plan.Exists(line => line.Contains("ix_patients_search", StringComparison.Ordinal)), string.Join('\n', plan));
        Assert.Equal(["Paciente 12345"], await NamesAsync(admin, "paciente 12345", isolated.Host));
        Assert.Equal(["Paciente 4321"], await NamesAsync(admin, "dni4321", isolated.Host));
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
