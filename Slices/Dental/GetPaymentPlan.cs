using Carter;
using ClinicFlow.Infrastructure;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ClinicFlow.Slices.Dental;

/// <summary>GET /api/dental/payment-plans/{id}: the schedule with each installment paid, due or overdue in the clinic's zone, and totals.</summary>
public sealed class GetPaymentPlan : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/dental")
            .MapGet("/payment-plans/{id:guid}", Handle)
            .RequireProPlan()
            .WithName(nameof(GetPaymentPlan))
            .WithSummary("A payment plan: installments (paid / due / overdue), payments and totals");

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(Guid id, Tenant tenant, CancellationToken ct)
    {
        if (await PaymentPlanRules.LoadAsync(tenant, tenant.ClinicId, id, ct) is not { } loaded)
        {
            return ApiProblem.NotFound();
        }

        return TypedResults.Ok(Response.From(loaded.Plan, loaded.Installments, loaded.Payments));
    }

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
