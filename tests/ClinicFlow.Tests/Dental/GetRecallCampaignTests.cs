using System.Net;
using ClinicFlow.Slices.Dental;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Dental;

/// <summary>GetRecallCampaign: counts queued, sent, failed and booked (an appointment made after the message).</summary>
public sealed class GetRecallCampaignTests(AppFixture app) : WhatsAppTest(app)
{
    private async Task<Guid> CreateAsync(Account admin)
    {
        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new CreateRecallCampaign.Request("Control anual", 6, "Hola {name}")).ToUrl("/api/dental/recall-campaigns");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        return (await result.ReadAsJsonAsync<CreateRecallCampaign.Response>()).Id;
    }

    private async Task<GetRecallCampaign.Response> GetAsync(Account admin, Guid id)
    {
        var result = await Host.Scenario(s =>
        {
            s.Get.Url($"/api/dental/recall-campaigns/{id}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.OK);
        });
        return await result.ReadAsJsonAsync<GetRecallCampaign.Response>();
    }

    [Fact]
    public async Task Counts_sent_then_booked_after_the_message()
    {
        var admin = await RegisterClinicAsync();
        await EnableWhatsAppAsync(admin);
        var arranged = await RecallCampaignTestData.ArrangeAsync(App, admin.ClinicId!.Value);
        var id = await CreateAsync(admin);
        await WaitUntilAsync(async () => (await GetAsync(admin, id)).Sent == 1, "recall message sent");

        await BookAsync(admin, arranged.DoctorId, arranged.EligiblePatientId, HoursAhead(7, 15));

        var campaign = await GetAsync(admin, id);
        Assert.Equal((1, 0, 1, 0, 0, 1), (campaign.Queued, campaign.Pending, campaign.Sent, campaign.Failed, campaign.Cancelled, campaign.Booked));
        Assert.Equal("Control anual", campaign.Name);
        Assert.Equal(1, await App.ScalarAsync<int>("select count(*)::int from outbox_messages where campaign_id = @id and status = 'sent'", new { id }));
    }

    [Fact]
    public async Task Counts_a_message_whatsapp_reported_failed()
    {
        var admin = await RegisterClinicAsync();
        await EnableWhatsAppAsync(admin);
        await RecallCampaignTestData.ArrangeAsync(App, admin.ClinicId!.Value);
        var id = await CreateAsync(admin);
        await App.ExecuteAsync("update outbox_messages set status = 'sent', sent_at = now(), delivery_status = 'failed' where campaign_id = @id", new { id });

        var campaign = await GetAsync(admin, id);

        Assert.Equal((1, 0, 1, 0), (campaign.Queued, campaign.Sent, campaign.Failed, campaign.Booked));
    }

    [Fact]
    public async Task Answers_404_for_another_clinics_campaign()
    {
        var other = await RegisterClinicAsync();
        await EnableWhatsAppAsync(other);
        var id = await CreateAsync(other);
        var admin = await RegisterClinicAsync();

        var result = await Host.Scenario(s =>
        {
            s.Get.Url($"/api/dental/recall-campaigns/{id}");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.NotFound);
        });

        Assert.DoesNotContain("Control anual", await result.ReadAsTextAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Requires_a_token()
    {
        await AssertNeedsTokenAsync(s => s.Get.Url($"/api/dental/recall-campaigns/{Guid.NewGuid()}"));
    }

    [Fact]
    public async Task Refuses_non_admins()
    {
        await AssertRefusedForRoleAsync("doctor", s => s.Get.Url($"/api/dental/recall-campaigns/{Guid.NewGuid()}"));
    }
}
