using Carter;
using ClinicFlow.Infrastructure;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.DemoRequests;

/// <summary>POST /api/demo-requests: a prospect asks for a demo from the public site (5 an hour per IP).</summary>
public sealed class CreateDemoRequest : ICarterModule
{
    public sealed record Request(string? Name, string? Email, string? ClinicName, string? Phone, string? Country, string? Message);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.Name).NotEmpty().MaximumLength(200);
            RuleFor(r => r.Email).NotEmpty().EmailAddress().MaximumLength(254);
            RuleFor(r => r.ClinicName).NotEmpty().MaximumLength(200);
            RuleFor(r => r.Phone).MaximumLength(40);
            RuleFor(r => r.Country).MaximumLength(100);
            RuleFor(r => r.Message).MaximumLength(4000);
        }
    }

    private const string Sql = """
        insert into demo_requests (id, name, email, clinic_name, phone, country, message, ip)
        values (@Id, @Name, @Email, @ClinicName, @Phone, @Country, @Message, @Ip)
        returning id, status
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapSystemGroup("/demo-requests", RateLimits.Demo)
            .MapPost("/", Handle)
            .WithName(nameof(CreateDemoRequest))
            .WithSummary("Ask for a demo (public; rate limited per IP)");

    private static async Task<Results<Created<Response>, ApiProblem>> Handle(
        Request request, SystemScope db, Validator validator, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        var demo = await db.QuerySingleAsync<Response>(Sql, new
        {
            Id = Guid.CreateVersion7(),
            Name = request.Name!.Trim(),
            Email = request.Email!.Trim(),
            ClinicName = request.ClinicName!.Trim(),
            Phone = request.Phone.TrimToNull(),
            Country = request.Country.TrimToNull(),
            Message = request.Message.TrimToNull(),
            Ip = db.Http.ClientIp(),
        }, ct);

        await db.AuditAsync(Audit.PlatformChain, "demo_request.create", "demo_request", demo.Id,
            new { clinicName = request.ClinicName.Trim(), country = request.Country.TrimToNull() }, ct);
        return TypedResults.Created($"/api/superadmin/demo-requests/{demo.Id}", demo);
    }

    public sealed record Response(Guid Id, string Status);
}
