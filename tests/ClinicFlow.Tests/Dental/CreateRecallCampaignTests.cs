using System.Net;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Dental;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Dental;

/// <summary>CreateRecallCampaign: one WhatsApp message per eligible patient, in one set-based insert.</summary>
public sealed class CreateRecallCampaignTests(AppFixture app) : WhatsAppTest(app)
{
    private const string Url = "/api/dental/recall-campaigns";

    [Fact]
    public async Task Queues_one_message_per_eligible_patient_and_audits_the_campaign()
    {
        var admin = await RegisterClinicAsync("Dental Sur");
        var phoneNumberId = await EnableWhatsAppAsync(admin);
        var arranged = await RecallCampaignTestData.ArrangeAsync(App, admin.ClinicId!.Value);

        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new CreateRecallCampaign.Request("Control anual", 6, "Hola {name}, es hora de su control.")).ToUrl(Url);
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });

        var campaign = await result.ReadAsJsonAsync<CreateRecallCampaign.Response>();
        Assert.Equal(1, campaign.Queued);
        Assert.Equal(6, campaign.MonthsSinceLastVisit);
        var rows = await App.QueryAsync<(Guid PatientId, string Recipient, string Text)>(
            "select patient_id, recipient, payload ->> 'text' from outbox_messages where campaign_id = @Id and kind = 'recall'", new { campaign.Id });
        var row = Assert.Single(rows);
        Assert.Equal(arranged.EligiblePatientId, row.PatientId);
        Assert.Equal(arranged.EligiblePhone, row.Recipient);
        Assert.Equal("Hola Ana, es hora de su control.", row.Text);
        var audit = await LastAuditAsync(admin.ClinicId!.Value, "recall_campaign.create");
        Assert.Equal(campaign.Id.ToString(), audit!.EntityId);
        Assert.Contains("\"queued\": 1", audit.Changes, StringComparison.Ordinal);

        var sent = await App.Graph.WaitForAsync(r => r.PhoneNumberId == phoneNumberId);
        Assert.Equal(CreateRecallCampaign.Template, sent.TemplateName);
        Assert.Equal(["Ana", "Dental Sur", "Hola Ana, es hora de su control."], sent.TemplateParameters);
    }

    [Fact]
    public async Task Refuses_a_clinic_without_whatsapp()
    {
        var admin = await RegisterClinicAsync();

        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new CreateRecallCampaign.Request("Control", 6, "Hola")).ToUrl(Url);
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Conflict);
        });

        await ErrorAsync(result, ErrorCodes.Conflict);
        Assert.Equal(0, await App.ScalarAsync<int>("select count(*)::int from recall_campaigns where clinic_id = @ClinicId", new { admin.ClinicId }));
    }

    [Fact]
    public async Task Refuses_the_basic_plan()
    {
        var admin = await RegisterClinicAsync();
        await App.ExecuteAsync("update clinics set plan = 'basic' where id = @ClinicId", new { admin.ClinicId });

        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new CreateRecallCampaign.Request("Control", 6, "Hola")).ToUrl(Url);
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Forbidden);
        });

        await ErrorAsync(result, ErrorCodes.PlanUpgradeRequired);
    }

    [Fact]
    public async Task Rejects_bad_input_with_details()
    {
        var admin = await RegisterClinicAsync();

        var error = await AssertInvalidAsync("monthsSinceLastVisit", s =>
        {
            s.Post.Json(new CreateRecallCampaign.Request("", 0, "Hola")).ToUrl(Url);
            s.WithBearerToken(admin.Token);
        });
        Assert.Contains("name", error.Details!.Keys);
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Post.Json(new CreateRecallCampaign.Request("C", 6, "Hola")).ToUrl(Url));
    }

    [Fact]
    public async Task Refuses_non_admins()
    {
        await AssertRefusedForRoleAsync("staff", s => s.Post.Json(new CreateRecallCampaign.Request("C", 6, "Hola")).ToUrl(Url));
    }
}
