using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.TreatmentPlans;
using Dapper;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace ClinicFlow.Slices.Dental;

/// <summary>
/// POST /api/dental/treatment-plans/{id}/payment-plan: splits an accepted plan's total into
/// installments every intervalDays from firstDueDate. The split is exact to the cent: the remainder
/// cents go one each to the first installments. One payment plan per treatment plan.
/// </summary>
public sealed class CreatePaymentPlan : ICarterModule
{
    public sealed record Request(int? Installments, int? IntervalDays, DateOnly? FirstDueDate);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.Installments).NotNull().InclusiveBetween(1, PaymentPlanRules.MaxInstallments);
            RuleFor(r => r.IntervalDays).NotNull().InclusiveBetween(1, 366);
            RuleFor(r => r.FirstDueDate).NotNull()
                .Must(d => d is null || (d.Value.Year >= 2000 && d.Value.Year <= 2100)).WithMessage("Use a date between 2000 and 2100.");
        }
    }

    // The treatment plan is locked: its items cannot change while the split is taken from its total.
    private const string TargetSql = """
        select 1 from treatment_plans where clinic_id = @ClinicId and id = @Id for update;

        select s.status, s.total_cents, s.payment_plan_id
        from treatment_plan_summaries s
        join patients p on p.clinic_id = s.clinic_id and p.id = s.patient_id and p.erased_at is null
        where s.clinic_id = @ClinicId and s.id = @Id;
        """;

    private const string InsertSql = """
        insert into payment_plans (id, clinic_id, treatment_plan_id, total_cents, installments, interval_days, first_due_date, created_by)
        values (@Id, @ClinicId, @TreatmentPlanId, @Total, @Count, @IntervalDays, @FirstDueDate, @CreatedBy);

        insert into payment_installments (clinic_id, payment_plan_id, number, due_date, amount_cents)
        select @ClinicId, @Id, n, @FirstDueDate + (n - 1) * @IntervalDays,
               @Total / @Count + case when n <= @Total % @Count then 1 else 0 end
        from generate_series(1, @Count) as n;
        """;

    private sealed record Target(string Status, long TotalCents, Guid? PaymentPlanId);

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/dental")
            .MapPost("/treatment-plans/{id:guid}/payment-plan", Handle)
            .RequireProPlan()
            .WithName(nameof(CreatePaymentPlan))
            .WithSummary("Split an accepted treatment plan's total into installments (exact to the cent)")
            .ProducesErrors(StatusCodes.Status409Conflict);

    private static async Task<Results<Created<Response>, ApiProblem>> Handle(
        Guid id, Request request, Tenant tenant, Validator validator, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        Target? target;
        await using (var results = await tenant.QueryMultipleAsync(TargetSql, new { tenant.ClinicId, Id = id }, ct))
        {
            await results.ReadAsync<int>();
            target = await results.ReadSingleOrDefaultAsync<Target>();
        }

        if (target is null)
        {
            return ApiProblem.NotFound();
        }

        if (target.PaymentPlanId is not null)
        {
            return AlreadyExists();
        }

        if (!TreatmentPlanRules.AcceptedStatuses.Contains(target.Status))
        {
            return ApiProblem.Conflict(ErrorCodes.InvalidState, new(
                $"Only an accepted treatment plan gets a payment plan; this one is {target.Status}.",
                $"Solo un plan de tratamiento aceptado recibe un plan de pagos; este está en estado {target.Status}.",
                $"Nur ein angenommener Behandlungsplan erhält einen Zahlungsplan; dieser ist {target.Status}."));
        }

        if (target.TotalCents <= 0)
        {
            return ApiProblem.Conflict(ErrorCodes.Conflict, new(
                "The treatment plan's total is zero: there is nothing to split.",
                "El total del plan de tratamiento es cero: no hay nada que dividir.",
                "Die Summe des Behandlungsplans ist null: es gibt nichts aufzuteilen."));
        }

        var paymentPlanId = Guid.CreateVersion7();
        try
        {
            await tenant.ExecuteAsync(InsertSql, new
            {
                Id = paymentPlanId,
                tenant.ClinicId,
                TreatmentPlanId = id,
                Total = target.TotalCents,
                Count = request.Installments!.Value,
                request.IntervalDays,
                request.FirstDueDate,
                CreatedBy = tenant.UserId,
            }, ct);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            return AlreadyExists();
        }

        await tenant.AuditAsync("payment_plan.create", "payment_plan", paymentPlanId, new
        {
            treatmentPlanId = id,
            installments = request.Installments,
            request.IntervalDays,
            totalCents = target.TotalCents,
        }, ct);
        var (plan, installments, payments) = (await PaymentPlanRules.LoadAsync(tenant, tenant.ClinicId, paymentPlanId, ct))!.Value;
        return TypedResults.Created($"/api/dental/payment-plans/{paymentPlanId}", Response.From(plan, installments, payments));
    }

    private static ApiProblem AlreadyExists() => ApiProblem.Conflict(ErrorCodes.AlreadyExists, new(
        "This treatment plan already has a payment plan.",
        "Este plan de tratamiento ya tiene un plan de pagos.",
        "Dieser Behandlungsplan hat bereits einen Zahlungsplan."));

    public sealed record Response(Guid Id, Guid TreatmentPlanId, Guid PatientId, long TotalCents, long PaidCents, long OutstandingCents,
        long OverdueCents, int InstallmentCount, int IntervalDays, DateOnly FirstDueDate, string Timezone, DateOnly Today,
        IReadOnlyList<Installment> Installments, IReadOnlyList<Payment> Payments, DateTimeOffset CreatedAt)
    {
        internal static Response From(PaymentPlanRules.PlanRow p, IEnumerable<PaymentPlanRules.InstallmentRow> installments,
            IEnumerable<PaymentPlanRules.PaymentRow> payments) =>
            new(p.Id, p.TreatmentPlanId, p.PatientId, p.TotalCents, p.PaidCents, p.OutstandingCents, p.OverdueCents, p.Installments,
                p.IntervalDays, p.FirstDueDate, p.Timezone, p.Today,
                installments.Select(i => new Installment(i.Number, i.DueDate, i.AmountCents, i.PaidCents, i.Status)).ToList(),
                payments.Select(x => new Payment(x.Id, x.AmountCents, x.PaidAt, x.Method, x.CreatedAt)).ToList(), p.CreatedAt);
    }

    /// <summary>One installment; <c>status</c> is paid, due (not yet past its date) or overdue, in the clinic's zone.</summary>
    public sealed record Installment(int Number, DateOnly DueDate, long AmountCents, long PaidCents, string Status);

    public sealed record Payment(Guid Id, long AmountCents, DateTimeOffset PaidAt, string Method, DateTimeOffset CreatedAt);
}
