using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Clinics;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Superadmin;

/// <summary>PATCH /api/superadmin/clinics/{id}: the operator changes a clinic's plan, expiry, limit overrides or active flag.</summary>
public sealed class UpdateClinic : ICarterModule
{
    /// <summary>Every field is optional (null = unchanged); clearLimitOverrides drops both overrides.</summary>
    public sealed record Request(string? Plan, string? SubscriptionStatus, DateTimeOffset? SubscriptionExpiresAt,
        int? MaxDoctorsOverride, int? MaxUsersOverride, bool? ClearLimitOverrides, bool? Active);

    public const int MaxOverride = 100_000;

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.Plan).Must(p => ClinicRules.Plans.Contains(p)).When(r => r.Plan is not null)
                .WithMessage("Use basic, pro or enterprise.");
            RuleFor(r => r.SubscriptionStatus).Must(s => ClinicRules.SubscriptionStatuses.Contains(s)).When(r => r.SubscriptionStatus is not null)
                .WithMessage("Use trialing, active, past_due, canceled or expired.");
            RuleFor(r => r.MaxDoctorsOverride).InclusiveBetween(0, MaxOverride);
            RuleFor(r => r.MaxUsersOverride).InclusiveBetween(0, MaxOverride);
            RuleFor(r => r.ClearLimitOverrides)
                .Must(clear => clear != true)
                .When(r => r.MaxDoctorsOverride is not null || r.MaxUsersOverride is not null)
                .WithMessage("Either set overrides or clear them, not both.");
        }
    }

    private const string BeforeSql = """
        select plan, subscription_status, subscription_expires_at, max_doctors_override, max_users_override, active
        from clinics
        where id = @Id
        for update
        """;

    private const string Sql = """
        update clinics
        set plan = coalesce(@Plan, plan),
            subscription_status = coalesce(@SubscriptionStatus, subscription_status),
            subscription_expires_at = coalesce(@SubscriptionExpiresAt::timestamptz, subscription_expires_at),
            max_doctors_override = case when @Clear then null else coalesce(@MaxDoctorsOverride, max_doctors_override) end,
            max_users_override = case when @Clear then null else coalesce(@MaxUsersOverride, max_users_override) end,
            active = coalesce(@Active, active),
            updated_at = now()
        where id = @Id
        returning plan, subscription_status, subscription_expires_at, max_doctors_override, max_users_override, active
        """;

    private const string DetailsSql = """
        select c.id, c.name, c.plan, c.subscription_status, c.subscription_expires_at,
               (c.subscription_status = 'expired' or coalesce(c.subscription_expires_at < now(), false)) as expired,
               c.max_doctors_override, c.max_users_override, c.active, c.updated_at
        from clinics c
        where c.id = @Id
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapSuperadminGroup("/clinics")
            .MapPatch("/{id:guid}", Handle)
            .WithName(nameof(UpdateClinic))
            .WithSummary("Change a clinic's plan, subscription status and expiry, limit overrides or active flag");

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(
        Guid id, Request request, SystemScope db, Validator validator, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        var before = await db.QuerySingleOrDefaultAsync<State>(BeforeSql, new { Id = id }, ct);
        if (before is null)
        {
            return ApiProblem.NotFound();
        }

        var after = await db.QuerySingleAsync<State>(Sql, new
        {
            Id = id,
            request.Plan,
            request.SubscriptionStatus,
            request.SubscriptionExpiresAt,
            request.MaxDoctorsOverride,
            request.MaxUsersOverride,
            Clear = request.ClearLimitOverrides == true,
            request.Active,
        }, ct);

        var changes = Changes(before, after);
        if (changes.Count > 0)
        {
            // In the clinic's own chain, so its admins see what the operator changed.
            await db.AuditAsync(id, "clinic.superadmin_update", "clinic", id, changes, ct);
        }

        var c = await db.QuerySingleAsync<Details>(DetailsSql, new { Id = id }, ct);
        var (doctors, users) = ClinicRules.Limits(c.Plan, c.MaxDoctorsOverride, c.MaxUsersOverride);
        return TypedResults.Ok(new Response(c.Id, c.Name, c.Plan, c.SubscriptionStatus, c.SubscriptionExpiresAt, c.Expired,
            c.MaxDoctorsOverride, c.MaxUsersOverride, new Limits(doctors, users), c.Active, c.UpdatedAt));
    }

    private static Dictionary<string, object?> Changes(State before, State after)
    {
        var changes = new Dictionary<string, object?>();
        void Compare<T>(string field, T old, T now)
        {
            if (!EqualityComparer<T>.Default.Equals(old, now))
            {
                changes[field] = new { from = old, to = now };
            }
        }

        Compare("plan", before.Plan, after.Plan);
        Compare("subscriptionStatus", before.SubscriptionStatus, after.SubscriptionStatus);
        Compare("subscriptionExpiresAt", before.SubscriptionExpiresAt, after.SubscriptionExpiresAt);
        Compare("maxDoctorsOverride", before.MaxDoctorsOverride, after.MaxDoctorsOverride);
        Compare("maxUsersOverride", before.MaxUsersOverride, after.MaxUsersOverride);
        Compare("active", before.Active, after.Active);
        return changes;
    }

    private sealed record State(string Plan, string SubscriptionStatus, DateTimeOffset? SubscriptionExpiresAt,
        int? MaxDoctorsOverride, int? MaxUsersOverride, bool Active);

    private sealed record Details(Guid Id, string Name, string Plan, string SubscriptionStatus, DateTimeOffset? SubscriptionExpiresAt,
        bool Expired, int? MaxDoctorsOverride, int? MaxUsersOverride, bool Active, DateTimeOffset UpdatedAt);

    /// <summary>Effective limits: the override when set, else the plan's (null = unlimited).</summary>
    public sealed record Limits(int? Doctors, int? Users);

    public sealed record Response(Guid Id, string Name, string Plan, string SubscriptionStatus, DateTimeOffset? SubscriptionExpiresAt,
        bool Expired, int? MaxDoctorsOverride, int? MaxUsersOverride, Limits Limits, bool Active, DateTimeOffset UpdatedAt);
}
