using Carter;
using ClinicFlow.Infrastructure;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Faq;

/// <summary>POST /api/faq: an admin adds a question and its answer to the WhatsApp chatbot, with search keywords.</summary>
public sealed class CreateFaq : ICarterModule
{
    public sealed record Request(string? Question, string? Answer, IReadOnlyList<string>? Keywords, bool? Active);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.Question).NotEmpty().MaximumLength(500);
            RuleFor(r => r.Answer).NotEmpty().MaximumLength(4000);
            RuleFor(r => r.Keywords).Must(k => k!.Count <= 50).When(r => r.Keywords is not null)
                .WithMessage(_ => new Text("At most 50 keywords.", "Como máximo 50 palabras clave.", "Höchstens 50 Schlüsselwörter.").Current);
            RuleForEach(r => r.Keywords).NotEmpty().MaximumLength(100);
        }
    }

    private const string Sql = """
        insert into faq_entries (id, clinic_id, question, answer, keywords, active)
        values (@Id, @ClinicId, @Question, @Answer, @Keywords, @Active)
        returning id, question, answer, keywords, active, created_at, updated_at
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/faq")
            .MapPost("/", Handle)
            .RequireAdmin()
            .WithName(nameof(CreateFaq))
            .WithSummary("Add a chatbot question and answer");

    private static async Task<Results<Created<Response>, ApiProblem>> Handle(
        Request request, Tenant tenant, Validator validator, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        var entry = await tenant.QuerySingleAsync<Response>(Sql, new
        {
            Id = Guid.CreateVersion7(),
            tenant.ClinicId,
            Question = request.Question!.Trim(),
            Answer = request.Answer!.Trim(),
            Keywords = (request.Keywords ?? []).Select(k => k.Trim()).Distinct(StringComparer.OrdinalIgnoreCase).ToArray(),
            Active = request.Active ?? true,
        }, ct);
        await tenant.AuditAsync("faq.create", "faq", entry.Id, new { active = entry.Active }, ct);
        return TypedResults.Created($"/api/faq/{entry.Id}", entry);
    }

    // Property mapping: Npgsql reports text[] as System.Array, which Dapper's constructor matching refuses.
    public sealed record Response
    {
        public Guid Id { get; init; }

        public string Question { get; init; } = "";

        public string Answer { get; init; } = "";

        public string[] Keywords { get; init; } = [];

        public bool Active { get; init; }

        public DateTimeOffset CreatedAt { get; init; }

        public DateTimeOffset UpdatedAt { get; init; }
    }
}
