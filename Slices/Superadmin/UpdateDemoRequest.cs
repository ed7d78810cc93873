using Carter;
using ClinicFlow.Infrastructure;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Superadmin;

/// <summary>PATCH /api/superadmin/demo-requests/{id}: the operator moves a demo request along (new, contacted, converted, rejected).</summary>
public sealed class UpdateDemoRequest : ICarterModule
{
    public sealed record Request(string? Status);

    private static readonly string[] Statuses = ["new", "contacted", "converted", "rejected"];

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.Status).NotEmpty().Must(s => Statuses.Contains(s))
                .WithMessage("Use new, contacted, converted or rejected.");
        }
    }

    private const string Sql = """
        with old as (
            select id, status from demo_requests where id = @Id for update
        )
        update demo_requests d
        set status = @Status, updated_at = now()
        from old
        where d.id = old.id
        returning d.id, d.name, d.email, d.clinic_name, d.phone, d.country, d.message, d.status, d.ip, d.created_at,
                  d.updated_at, old.status as previous_status
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapSuperadminGroup("/demo-requests")
            .MapPatch("/{id:guid}", Handle)
            .WithName(nameof(UpdateDemoRequest))
            .WithSummary("Set a demo request's status: new, contacted, converted or rejected");

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(
        Guid id, Request request, SystemScope db, Validator validator, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        var row = await db.QuerySingleOrDefaultAsync<Row>(Sql, new { Id = id, request.Status }, ct);
        if (row is null)
        {
            return ApiProblem.NotFound();
        }

        if (row.PreviousStatus != row.Status)
        {
            await db.AuditAsync(Audit.PlatformChain, "demo_request.update", "demo_request", id,
                new { status = new { from = row.PreviousStatus, to = row.Status } }, ct);
        }

        return TypedResults.Ok(new Response(row.Id, row.Name, row.Email, row.ClinicName, row.Phone, row.Country, row.Message,
            row.Status, row.Ip, row.CreatedAt, row.UpdatedAt));
    }

    private sealed record Row(Guid Id, string Name, string Email, string ClinicName, string? Phone, string? Country,
        string? Message, string Status, string? Ip, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, string PreviousStatus);

    public sealed record Response(Guid Id, string Name, string Email, string ClinicName, string? Phone, string? Country,
        string? Message, string Status, string? Ip, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);
}
