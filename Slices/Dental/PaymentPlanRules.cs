using ClinicFlow.Infrastructure;
using Dapper;

namespace ClinicFlow.Slices.Dental;

/// <summary>
/// Payment plans of treatment plans: the schedule with each installment's state in the clinic's
/// zone (paid, due, overdue) and its totals, read the same way by every payment-plan slice.
/// </summary>
public static class PaymentPlanRules
{
    public static readonly string[] Methods = ["cash", "card", "transfer", "other"];

    public const int MaxInstallments = 120;

    public sealed record PlanRow(Guid Id, Guid TreatmentPlanId, Guid PatientId, long TotalCents, long PaidCents, long OutstandingCents,
        long OverdueCents, int Installments, int IntervalDays, DateOnly FirstDueDate, string Timezone, DateOnly Today, DateTimeOffset CreatedAt);

    public sealed record InstallmentRow(int Number, DateOnly DueDate, long AmountCents, long PaidCents, string Status);

    public sealed record PaymentRow(Guid Id, long AmountCents, DateTimeOffset PaidAt, string Method, DateTimeOffset CreatedAt);

    // "Today" is the clinic's local date: an installment is overdue from the day after its due date.
    private const string Sql = """
        select pp.id, pp.treatment_plan_id, t.patient_id, pp.total_cents, pp.paid_cents,
               pp.total_cents - pp.paid_cents as outstanding_cents,
               coalesce((select sum(i.amount_cents - i.paid_cents) from payment_installments i
                         where i.clinic_id = pp.clinic_id and i.payment_plan_id = pp.id
                           and i.due_date < (now() at time zone c.timezone)::date), 0)::bigint as overdue_cents,
               pp.installments, pp.interval_days, pp.first_due_date, c.timezone,
               (now() at time zone c.timezone)::date as today, pp.created_at
        from payment_plans pp
        join treatment_plans t on t.clinic_id = pp.clinic_id and t.id = pp.treatment_plan_id
        join patients p on p.clinic_id = t.clinic_id and p.id = t.patient_id and p.erased_at is null
        join clinics c on c.id = pp.clinic_id
        where pp.clinic_id = @ClinicId and pp.id = @Id;

        select i.number, i.due_date, i.amount_cents, i.paid_cents,
               case when i.paid_cents = i.amount_cents then 'paid'
                    when i.due_date < (now() at time zone c.timezone)::date then 'overdue'
                    else 'due' end as status
        from payment_installments i
        join clinics c on c.id = i.clinic_id
        where i.clinic_id = @ClinicId and i.payment_plan_id = @Id
        order by i.number;

        select id, amount_cents, paid_at, method, created_at
        from payments
        where clinic_id = @ClinicId and payment_plan_id = @Id
        order by paid_at, id;
        """;

    /// <summary>The payment plan with its installments and payments, or null (unknown, another clinic's, erased patient).</summary>
    public static async Task<(PlanRow Plan, IReadOnlyList<InstallmentRow> Installments, IReadOnlyList<PaymentRow> Payments)?> LoadAsync(
        DbScope scope, Guid clinicId, Guid id, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(scope);
        await using var results = await scope.QueryMultipleAsync(Sql, new { ClinicId = clinicId, Id = id }, ct);
        var plan = await results.ReadSingleOrDefaultAsync<PlanRow>();
        var installments = (await results.ReadAsync<InstallmentRow>()).ToList();
        var payments = (await results.ReadAsync<PaymentRow>()).ToList();
        return plan is null ? null : (plan, installments, payments);
    }
}
