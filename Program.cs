using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Waitlist;
using ClinicFlow.Slices.WhatsApp;
using Scalar.AspNetCore;

var builder = WebApplication.CreateBuilder(args);
if (builder.Environment.IsProduction())
{
    // One JSON object a line, with the request id of its scope, for the log collector.
    builder.Logging.AddJsonConsole();
}

builder.Services.AddClinicOpenApi();
builder.Services.AddDatabase();
builder.Services.AddClinicAuth();
builder.Services.AddSecretBox();
builder.Services.AddClinicRateLimits();
builder.Services.AddOutbox();
builder.Services.AddIdempotency();
builder.Services.AddStripe();
builder.Services.AddRetentionPurge();
builder.Services.AddWhatsApp();
builder.Services.AddWhatsAppInbox();
builder.Services.AddWaitlist();
builder.Services.AddClinicHttp(builder.Configuration);
builder.Services.AddClinicTelemetry(builder.Configuration);
builder.Services.AddCarter();

var app = builder.Build();

await app.MigrateDatabaseAsync();
if (args.Contains("--migrate-only"))
{
    return;
}

if (args.Contains("--seed-demo"))
{
    await DemoSeed.RunAsync(app);
}

app.UseForwardedHeaders();
app.UseRequestIds();
app.UseRequestLocalization(options => options
    .SetDefaultCulture("en")
    .AddSupportedCultures("en", "es", "de")
    .AddSupportedUICultures("en", "es", "de"));
app.UseExceptionHandler(new ExceptionHandlerOptions { ExceptionHandler = ErrorWriter.HandleExceptionAsync });
app.UseStatusCodePages(ErrorWriter.WriteForStatusAsync);
app.UseBodySizeLimit();
app.UseInputSafety();
app.UseIdempotencyKeys();
app.UseRateLimiter();
app.UseAuthentication();
app.UseAuthorization();

app.MapOpenApi("/openapi/{documentName}.json");
app.MapScalarApiReference("/scalar");
app.MapCarter();

await app.RunAsync();
