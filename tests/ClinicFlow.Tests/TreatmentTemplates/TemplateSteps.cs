using System.Net;
using ClinicFlow.Slices.TreatmentTemplates;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.TreatmentTemplates;

/// <summary>Arranges templates through <see cref="CreateTreatmentTemplate"/> for the other template tests.</summary>
internal static class TemplateSteps
{
    public static async Task<CreateTreatmentTemplate.Response> CreateAsync(IAlbaHost host, Account account, string name = "Template",
        params ClinicalTest.Item[] items)
    {
        var result = await host.Scenario(s =>
        {
            s.Post.Json(new { name, category = "general", items }).ToUrl("/api/treatment-templates");
            s.WithBearerToken(account.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        return await result.ReadAsJsonAsync<CreateTreatmentTemplate.Response>();
    }
}
