using System.Net;
using ClinicFlow.Slices.Dental;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Dental;

/// <summary>Arranges payment plans through <see cref="CreatePaymentPlan"/> for the payment tests.</summary>
internal static class PaymentSteps
{
    public static async Task<CreatePaymentPlan.Response> CreateAsync(IAlbaHost host, Account account, Guid treatmentPlanId, int installments,
        DateOnly firstDueDate, int intervalDays = 30)
    {
        var result = await host.Scenario(s =>
        {
            s.Post.Json(new { installments, intervalDays, firstDueDate }).ToUrl($"/api/dental/treatment-plans/{treatmentPlanId}/payment-plan");
            s.WithBearerToken(account.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        return await result.ReadAsJsonAsync<CreatePaymentPlan.Response>();
    }
}
