using System.Net;
using System.Text.Json;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Auth;

namespace ClinicFlow.Tests.Support;

/// <summary>A signed-in user the tests act as, with what the API returned for them.</summary>
public sealed record Account(string Token, Guid UserId, Guid? ClinicId, string Email, string Password);

/// <summary>Base of every HTTP test: the shared host, real sign-ups and small assertion helpers.</summary>
public abstract class ApiTest(AppFixture app)
{
    public const string Password = "correct horse battery";

    protected static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    protected AppFixture App { get; } = app;

    protected IAlbaHost Host => App.Host;

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static string NewEmail(string prefix = "user") => $"{prefix}-{Guid.NewGuid():N}@test.clinicflow.local";

    /// <summary>Signs up a new clinic through the real API; its admin's token comes back.</summary>
    protected Task<Account> RegisterClinicAsync(string clinicName = "Clínica Test", string country = "AR", IAlbaHost? host = null) =>
        RegisterAsync(new Register.Request(NewEmail("admin"), Password, "Ada Admin", clinicName, null, country, null, null), host);

    /// <summary>Signs up a user without a clinic (the consent product's flow).</summary>
    protected Task<Account> RegisterWithoutClinicAsync(IAlbaHost? host = null) =>
        RegisterAsync(new Register.Request(NewEmail("solo"), Password, "Sam Solo", null, null, null, null, null), host);

    protected async Task<Account> RegisterAsync(Register.Request request, IAlbaHost? host = null)
    {
        var result = await (host ?? Host).Scenario(s =>
        {
            s.Post.Json(request).ToUrl("/api/auth/register");
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        var session = await result.ReadAsJsonAsync<AuthRules.Session>();
        return new Account(session.Token, session.User.Id, session.User.ClinicId, session.User.Email, request.Password!);
    }

    /// <summary>Adds a user of <paramref name="role"/> to the admin's clinic and signs them in.</summary>
    protected async Task<Account> AddUserAsync(Account admin, string role)
    {
        var email = NewEmail(role);
        await Host.Scenario(s =>
        {
            s.Post.Json(new { email, fullName = $"Test {role}", role, password = Password }).ToUrl("/api/users");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        return await LoginAsync(email, Password);
    }

    protected async Task<Account> LoginAsync(string email, string password)
    {
        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new Login.Request(email, password)).ToUrl("/api/auth/login");
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        var session = await result.ReadAsJsonAsync<AuthRules.Session>();
        return new Account(session.Token, session.User.Id, session.User.ClinicId, email, password);
    }

    /// <summary>The request without a token answers 401 UNAUTHENTICATED.</summary>
    protected async Task AssertNeedsTokenAsync(Action<Scenario> request)
    {
        var result = await Host.Scenario(s =>
        {
            request(s);
            s.StatusCodeShouldBe(HttpStatusCode.Unauthorized);
        });

        await ErrorAsync(result, ErrorCodes.Unauthenticated);
    }

    /// <summary>The request by a user of <paramref name="role"/> in a fresh clinic answers 403 FORBIDDEN.</summary>
    protected async Task AssertRefusedForRoleAsync(string role, Action<Scenario> request)
    {
        var admin = await RegisterClinicAsync();
        var member = await AddUserAsync(admin, role);

        var result = await Host.Scenario(s =>
        {
            request(s);
            s.WithBearerToken(member.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Forbidden);
        });

        await ErrorAsync(result, ErrorCodes.Forbidden);
    }

    /// <summary>The request answers 400 VALIDATION_ERROR with <paramref name="field"/> among the details.</summary>
    protected async Task<ApiError> AssertInvalidAsync(string field, Action<Scenario> request)
    {
        var result = await Host.Scenario(s =>
        {
            request(s);
            s.StatusCodeShouldBe(HttpStatusCode.BadRequest);
        });

        var error = await ErrorAsync(result, ErrorCodes.ValidationError);
        Assert.Contains(field, error.Details!.Keys);
        return error;
    }

    /// <summary>Reads the error contract and checks its code.</summary>
    protected static async Task<ApiError> ErrorAsync(IScenarioResult result, string expectedCode)
    {
        var error = await result.ReadAsJsonAsync<ApiError>();
        Assert.Equal(expectedCode, error.Code);
        Assert.False(string.IsNullOrWhiteSpace(error.Error));
        return error;
    }

    protected static async Task<T> BodyAsync<T>(IScenarioResult result)
    {
        var text = await result.ReadAsTextAsync();
        return JsonSerializer.Deserialize<T>(text, Json) ?? throw new InvalidOperationException("Empty body.");
    }

    /// <summary>The newest audit entry of a clinic's chain with this action, as the database holds it.</summary>
    protected async Task<AuditRow?> LastAuditAsync(Guid clinicId, string action)
    {
        var rows = await App.QueryAsync<AuditRow>("""
            select action, entity_type, entity_id, actor_id, actor_type, changes::text as changes
            from audit_log where clinic_id = @clinicId and action = @action order by seq desc limit 1
            """, new { clinicId, action });
        return rows.Count > 0 ? rows[0] : null;
    }
}

public sealed record AuditRow(string Action, string EntityType, string? EntityId, Guid? ActorId, string ActorType, string Changes);
