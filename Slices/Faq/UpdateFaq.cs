using Carter;
using ClinicFlow.Infrastructure;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Faq;

/// <summary>PATCH /api/faq/{id}: an admin edits a chatbot entry; a missing field keeps its value, <c>keywords: []</c> clears them.</summary>
public sealed class UpdateFaq : ICarterModule
{
    public sealed record Request(string? Question, string? Answer, IReadOnlyList<string>? Keywords, bool? Active);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.Question).NotEmpty().MaximumLength(500).When(r => r.Question is not null);
            RuleFor(r => r.Answer).NotEmpty().MaximumLength(4000).When(r => r.Answer is not null);
            RuleFor(r => r.Keywords).Must(k => k!.Count <= 50).When(r => r.Keywords is not null)
                .WithMessage(_ => new Text("At most 50 keywords.", "Como máximo 50 palabras clave.", "Höchstens 50 Schlüsselwörter.").Current);
            RuleForEach(r => r.Keywords).NotEmpty().MaximumLength(100);
        }
    }

    private const string CurrentSql = """
        select id, question, answer, keywords, active, created_at, updated_at
        from faq_entries
        where clinic_id = @ClinicId and id = @Id
        for update
        """;

    private const string UpdateSql = """
        update faq_entries
           set question = @Question, answer = @Answer, keywords = @Keywords, active = @Active, updated_at = now()
         where clinic_id = @ClinicId and id = @Id
        returning id, question, answer, keywords, active, created_at, updated_at
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/faq")
            .MapPatch("/{id:guid}", Handle)
            .RequireAdmin()
            .WithName(nameof(UpdateFaq))
            .WithSummary("Edit a chatbot question and answer");

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(
        Guid id, Request request, Tenant tenant, Validator validator, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        var current = await tenant.QuerySingleOrDefaultAsync<Response>(CurrentSql, new { tenant.ClinicId, Id = id }, ct);
        if (current is null)
        {
            return ApiProblem.NotFound();
        }

        var question = request.Question?.Trim() ?? current.Question;
        var answer = request.Answer?.Trim() ?? current.Answer;
        var keywords = request.Keywords is null
            ? current.Keywords
            : request.Keywords.Select(k => k.Trim()).Distinct(StringComparer.OrdinalIgnoreCase).ToArray();
        var active = request.Active ?? current.Active;
        var fields = new List<string>();
        if (question != current.Question)
        {
            fields.Add("question");
        }

        if (answer != current.Answer)
        {
            fields.Add("answer");
        }

        if (!keywords.SequenceEqual(current.Keywords))
        {
            fields.Add("keywords");
        }

        if (active != current.Active)
        {
            fields.Add("active");
        }

        if (fields.Count == 0)
        {
            return TypedResults.Ok(current);
        }

        var entry = await tenant.QuerySingleAsync<Response>(UpdateSql, new
        {
            tenant.ClinicId,
            Id = id,
            Question = question,
            Answer = answer,
            Keywords = keywords,
            Active = active,
        }, ct);
        await tenant.AuditAsync("faq.update", "faq", id, new { fields }, ct);
        return TypedResults.Ok(entry);
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
