using System.Net;
using System.Text.RegularExpressions;
using ClinicFlow.Slices.Team;
using ClinicFlow.Tests.Support;

namespace ClinicFlow.Tests.Team;

/// <summary>Base of the team tests: invites through the real API, and their links read from the mail the SMTP sink caught.</summary>
public abstract partial class TeamTest(AppFixture app) : ApiTest(app)
{
    [GeneratedRegex(@"/invite/([A-Za-z0-9_-]+)")]
    private static partial Regex InviteLinkPattern();

    /// <summary>An invite sent by <paramref name="admin"/>, and the link token of the mail that arrived for it.</summary>
    protected async Task<(InviteMember.Response Invite, string Token)> InviteAsync(Account admin, string email, string role = "staff")
    {
        var before = MailsTo(email).Count;
        var result = await Host.Scenario(s =>
        {
            s.Post.Json(new { email, role }).ToUrl("/api/team/invite");
            s.WithBearerToken(admin.Token);
            s.StatusCodeShouldBe(HttpStatusCode.Created);
        });
        var invite = await result.ReadAsJsonAsync<InviteMember.Response>();
        var mail = await MailAsync(email, before + 1);
        return (invite, TokenOf(mail));
    }

    protected static string TokenOf(ReceivedMail mail) => InviteLinkPattern().Match(mail.Text).Groups[1].Value;

    protected IReadOnlyList<ReceivedMail> MailsTo(string email) =>
        App.Smtp.Messages.Where(m => m.To.Contains(email, StringComparer.OrdinalIgnoreCase)).ToList();

    /// <summary>Waits (bounded) for the <paramref name="count"/>-th mail to <paramref name="email"/>.</summary>
    protected async Task<ReceivedMail> MailAsync(string email, int count = 1)
    {
        for (var i = 0; i < 300; i++)
        {
            var mails = MailsTo(email);
            if (mails.Count >= count)
            {
                return mails[count - 1];
            }

            await Task.Delay(50, Ct);
        }

        throw new TimeoutException($"Mail {count} to {email} never arrived.");
    }

    /// <summary>Accepts an invite; a null body sends none at all (a signed-in caller needs none).</summary>
    protected Task<IScenarioResult> AcceptAsync(string token, object? body, string? bearer, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            if (body is null)
            {
                s.Post.Url($"/api/team/invite/{token}/accept");
            }
            else
            {
                s.Post.Json(body).ToUrl($"/api/team/invite/{token}/accept");
            }

            if (bearer is not null)
            {
                s.WithBearerToken(bearer);
            }

            s.StatusCodeShouldBe(expected);
        });

    protected Task<IScenarioResult> MeAsync(string token, HttpStatusCode expected) =>
        Host.Scenario(s =>
        {
            s.Get.Url("/api/auth/me");
            s.WithBearerToken(token);
            s.StatusCodeShouldBe(expected);
        });

    protected Task UsePlanAsync(Guid? clinicId, string plan) =>
        App.ExecuteAsync("update clinics set plan = @plan where id = @clinicId", new { plan, clinicId });
}
