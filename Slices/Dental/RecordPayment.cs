using Carter;
using ClinicFlow.Infrastructure;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace ClinicFlow.Slices.Dental;

/// <summary>
/// POST /api/dental/payment-plans/{id}/payments: records a payment and applies it to the open
/// installments in order. More than is still owed is 409; concurrent payments take turns on the
/// payment plan's row, and a check constraint keeps the sum received within the total regardless.
/// </summary>
public sealed class RecordPayment : ICarterModule
{
    public sealed record Request(long? AmountCents, DateTimeOffset? PaidAt, string? Method);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.AmountCents).NotNull().GreaterThan(0);
            RuleFor(r => r.PaidAt).NotNull()
                .Must(p => p is null || p.Value <= DateTimeOffset.UtcNow.AddDays(1)).WithMessage("paidAt cannot be in the future.");
            RuleFor(r => r.Method).NotEmpty().Must(m => m is null || PaymentPlanRules.Methods.Contains(m))
                .WithMessage("Use cash, card, transfer or other.");
        }
    }

    private const string LockSql = """
        select pp.total_cents, pp.paid_cents
        from payment_plans pp
        join treatment_plans t on t.clinic_id = pp.clinic_id and t.id = pp.treatment_plan_id
        join patients p on p.clinic_id = t.clinic_id and p.id = t.patient_id and p.erased_at is null
        where pp.clinic_id = @ClinicId and pp.id = @Id
        for update of pp
        """;

    // Runs after the lock, so it sees what earlier payments committed. Each open installment takes
    // what is left of the amount after the open installments before it.
    private const string ApplySql = """
        insert into payments (id, clinic_id, payment_plan_id, amount_cents, paid_at, method, created_by)
        values (@PaymentId, @ClinicId, @Id, @Amount, @PaidAt, @Method, @CreatedBy);

        update payment_plans set paid_cents = paid_cents + @Amount where clinic_id = @ClinicId and id = @Id;

        with open as (
            select number, amount_cents - paid_cents as open_cents,
                   coalesce(sum(amount_cents - paid_cents) over (order by number rows between unbounded preceding and 1 preceding), 0)
                       as before_cents
            from payment_installments
            where clinic_id = @ClinicId and payment_plan_id = @Id and paid_cents < amount_cents
        )
        update payment_installments i
           set paid_cents = i.paid_cents + least(o.open_cents, @Amount - o.before_cents)
          from open o
         where i.clinic_id = @ClinicId and i.payment_plan_id = @Id and i.number = o.number and o.before_cents < @Amount;
        """;

    private sealed record Balance(long TotalCents, long PaidCents);

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/dental")
            .MapPost("/payment-plans/{id:guid}/payments", Handle)
            .RequireProPlan()
            .WithName(nameof(RecordPayment))
            .WithSummary("Record a payment, applied to the installments in order; overpayment is 409")
            .ProducesErrors(StatusCodes.Status409Conflict);

    private static async Task<Results<Created<Response>, ApiProblem>> Handle(
        Guid id, Request request, Tenant tenant, Validator validator, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        var balance = await tenant.QuerySingleOrDefaultAsync<Balance>(LockSql, new { tenant.ClinicId, Id = id }, ct);
        if (balance is null)
        {
            return ApiProblem.NotFound();
        }

        var amount = request.AmountCents!.Value;
        var open = balance.TotalCents - balance.PaidCents;
        if (amount > open)
        {
            return Overpayment(open);
        }

        var paymentId = Guid.CreateVersion7();
        try
        {
            await tenant.ExecuteAsync(ApplySql, new
            {
                PaymentId = paymentId,
                tenant.ClinicId,
                Id = id,
                Amount = amount,
                PaidAt = request.PaidAt!.Value.ToUniversalTime(),
                request.Method,
                CreatedBy = tenant.UserId,
            }, ct);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.CheckViolation)
        {
            return Overpayment(open);
        }

        await tenant.AuditAsync("payment.create", "payment_plan", id, new { paymentId, amountCents = amount, request.Method }, ct);
        return TypedResults.Created($"/api/dental/payment-plans/{id}",
            new Response(paymentId, id, amount, request.PaidAt!.Value, request.Method!, balance.PaidCents + amount, open - amount));
    }

    private static ApiProblem Overpayment(long open) => ApiProblem.Conflict(ErrorCodes.Conflict, new(
        $"The payment exceeds what is still owed ({open} cents).",
        $"El pago supera lo que aún se adeuda ({open} centavos).",
        $"Die Zahlung übersteigt den offenen Betrag ({open} Cent)."));

    public sealed record Response(Guid Id, Guid PaymentPlanId, long AmountCents, DateTimeOffset PaidAt, string Method,
        long PlanPaidCents, long PlanOutstandingCents);
}
