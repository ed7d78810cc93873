using System.Net.Http.Headers;
using System.Net.Http.Json;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Patients;
using ClinicFlow.Tests.Support;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace ClinicFlow.Tests.Platform;

/// <summary>
/// The tenant settings are transaction-local (<c>set_config(…, true)</c>): a pooled connection that
/// served one clinic carries nothing into the next request, whoever makes it, even when the pool
/// does not reset connections (<c>No Reset On Close</c>).
/// </summary>
public sealed class PooledTenantStateTests(AppFixture app) : ApiTest(app)
{
    [Fact]
    public async Task No_tenant_state_survives_on_a_pooled_connection_between_concurrent_clinics()
    {
        const int poolSize = 3;
        var database = "clinicflow_test_pooled_" + Guid.NewGuid().ToString("N")[..8];
        var appCs = new NpgsqlConnectionStringBuilder(await App.Cluster.CreateDatabaseAsync(database)) {
            MaxPoolSize = poolSize,
            Timeout = 10,
            // Without the DISCARD ALL Npgsql sends when a connection returns to the pool: only the
            // transaction-local settings keep the next request clean.
            NoResetOnClose = true,
        };
        var isolated = await App.StartIsolatedAsync(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = appCs.ConnectionString,
            ["Outbox:Enabled"] = "false",
        });
        var clinics = new[] { await RegisterClinicAsync("Clínica Norte", host: isolated.Host), await RegisterClinicAsync("Clínica Sur", host: isolated.Host) };
        var own = new Dictionary<Guid, HashSet<Guid>>();
        foreach (var clinic in clinics)
        {
            own[clinic.UserId] = [];
            for (var i = 0; i < 3; i++)
            {
                var created = await isolated.Host.Scenario(s =>
                {
                    s.Post.Json(new { fullName = $"Paciente {i} de {clinic.Email}" }).ToUrl("/api/patients");
                    s.WithBearerToken(clinic.Token);
                    s.StatusCodeShouldBe(System.Net.HttpStatusCode.Created);
                });
                own[clinic.UserId].Add((await created.ReadAsJsonAsync<RegisterPatient.Response>()).Id);
            }
        }

        // Sixty reads of both clinics at once over three connections: each sees its own rows only.
        using var client = isolated.Host.Server.CreateClient();
        var requests = Enumerable.Range(0, 60).Select(async i =>
        {
            var clinic = clinics[i % 2];
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/patients?limit=200");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", clinic.Token);
            using var response = await client.SendAsync(request, Ct);
            response.EnsureSuccessStatusCode();
            var page = await response.Content.ReadFromJsonAsync<Page<ListPatients.Response>>(Ct);
            return (clinic.UserId, Seen: page!.Items.Select(p => p.Id).ToHashSet());
        });
        foreach (var (userId, seen) in await Task.WhenAll(requests))
        {
            Assert.True(own[userId].SetEquals(seen), "a clinic saw rows that are not its own, or missed its own");
        }

        // Every connection the pool now holds: no clinic, no user, no bypass left on it.
        var source = isolated.Host.Services.GetRequiredService<NpgsqlDataSource>();
        var held = new List<NpgsqlConnection>();
        try
        {
            for (var i = 0; i < poolSize; i++)
            {
                held.Add(await source.OpenConnectionAsync(Ct));
            }

            foreach (var connection in held)
            {
                var state = await connection.QuerySingleAsync<(string? Clinic, string? User, string? Bypass)>("""
                    select current_setting('app.clinic_id', true), current_setting('app.user_id', true), current_setting('app.bypass_rls', true)
                    """);
                Assert.True(string.IsNullOrEmpty(state.Clinic) && string.IsNullOrEmpty(state.User) && state.Bypass is null or "" or "off",
                    $"left on a pooled connection: {state}");
                // And row-level security, without a tenant, shows nothing.
                Assert.Equal(0L, await connection.ExecuteScalarAsync<long>("select count(*) from patients"));
            }
        }
        finally
        {
            foreach (var connection in held)
            {
                await connection.DisposeAsync();
            }
        }
    }
}
