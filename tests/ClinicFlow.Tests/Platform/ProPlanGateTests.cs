using System.Net;
using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace ClinicFlow.Tests.Platform;

/// <summary>
/// Pro+ features answer 403 PLAN_UPGRADE_REQUIRED on basic: for every route of a Pro+ area (declared
/// once in <see cref="TenancyConventions.ProPlanAreas"/>) and for a group that says RequireProPlan().
/// Probe routes stand in for the dental slices and a lone Pro+ group.
/// </summary>
public sealed class ProPlanGateTests(AppFixture app) : ApiTest(app)
{
    // Nested, so Carter's assembly scan never maps them in the shared host; registered explicitly below.
    public sealed class AreaProbe : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapTenantGroup("/dental/plan-gate-probe").MapGet("/", () => TypedResults.Ok(new Probed("dental")));
    }

    public sealed class GroupProbe : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapTenantGroup("/plan-gate-probe").RequireProPlan().MapGet("/", () => TypedResults.Ok(new Probed("group")));
    }

    public sealed record Probed(string Route);

    private static readonly string[] Probes = ["/api/dental/plan-gate-probe", "/api/plan-gate-probe"];

    private Task<IsolatedHost> HostWithProbesAsync() =>
        App.StartIsolatedAsync(new Dictionary<string, string?>(), services =>
        {
            services.AddSingleton<ICarterModule, AreaProbe>();
            services.AddSingleton<ICarterModule, GroupProbe>();
        });

    [Fact]
    public async Task Basic_gets_plan_upgrade_required_and_pro_and_enterprise_pass()
    {
        var isolated = await HostWithProbesAsync();
        var host = isolated.Host;
        var admin = await RegisterClinicAsync(host: host);
        var staff = await AddStaffAsync(host, admin);
        var connection = isolated.AdminConnectionString;

        await SetPlanAsync(connection, admin.ClinicId, "basic");
        foreach (var probe in Probes)
        {
            foreach (var caller in new[] { admin, staff })
            {
                var refused = await host.Scenario(s =>
                {
                    s.Get.Url(probe);
                    s.WithBearerToken(caller.Token);
                    s.StatusCodeShouldBe(HttpStatusCode.Forbidden);
                });
                await ErrorAsync(refused, ErrorCodes.PlanUpgradeRequired);
            }
        }

        foreach (var plan in new[] { "pro", "enterprise" })
        {
            await SetPlanAsync(connection, admin.ClinicId, plan);
            foreach (var probe in Probes)
            {
                var ok = await host.Scenario(s =>
                {
                    s.Get.Url(probe);
                    s.WithBearerToken(staff.Token);
                    s.StatusCodeShouldBe(HttpStatusCode.OK);
                });
                Assert.NotNull(await ok.ReadAsJsonAsync<Probed>());
            }
        }

        await host.Scenario(s =>
        {
            s.Get.Url(Probes[0]);
            s.StatusCodeShouldBe(HttpStatusCode.Unauthorized);
        });
    }

    [Fact]
    public async Task Every_route_of_a_pro_area_carries_the_plan_requirement()
    {
        var host = (await HostWithProbesAsync()).Host;

        var routes = host.Services.GetServices<EndpointDataSource>().SelectMany(d => d.Endpoints).OfType<RouteEndpoint>()
            .Where(e => TenancyConventions.IsProPlanArea((e.RoutePattern.RawText ?? "").Replace("/api", "", StringComparison.Ordinal)))
            .ToList();

        Assert.Contains(routes, e => e.RoutePattern.RawText!.Contains("plan-gate-probe", StringComparison.Ordinal));
        Assert.All(routes, e => Assert.Equal(["pro", "enterprise"], e.Metadata.GetMetadata<PlanMetadata>()!.Plans));
        Assert.True(TenancyConventions.IsProPlanArea("/dental/treatment-plans"));
        Assert.False(TenancyConventions.IsProPlanArea("/dentalx"));
        Assert.False(TenancyConventions.IsProPlanArea("/billing"));
    }

    private static async Task<Account> AddStaffAsync(IAlbaHost host, Account admin)
    {
        var email = NewEmail("staff");
        await host.Scenario(s =>
        {
            s.Post.Json(new { email, fullName = "Probe Staff", role = "staff", password = Password }).ToUrl("/api/users");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        var result = await host.Scenario(s =>
        {
            s.Post.Json(new { email, password = Password }).ToUrl("/api/auth/login");
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        var session = await result.ReadAsJsonAsync<Slices.Auth.AuthRules.Session>();
        return new Account(session.Token, session.User.Id, session.User.ClinicId, email, Password);
    }

    private static async Task SetPlanAsync(string adminConnectionString, Guid? clinicId, string plan)
    {
        await using var connection = new Npgsql.NpgsqlConnection(adminConnectionString);
        await Dapper.SqlMapper.ExecuteAsync(connection, "update clinics set plan = @plan where id = @clinicId", new { plan, clinicId });
    }
}
