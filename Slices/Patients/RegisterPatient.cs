using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Clinics;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace ClinicFlow.Slices.Patients;

/// <summary>POST /api/patients: any member of the clinic registers a patient; the phone is stored in E.164.</summary>
public sealed class RegisterPatient : ICarterModule
{
    public sealed record Request(string? FullName, string? Phone, string? Email, DateOnly? BirthDate, string? Gender,
        string? DocumentId, string? Notes, string? LookupHash, string? EncryptedData);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.FullName).NotEmpty().MaximumLength(200);
            RuleFor(r => r.Phone).MaximumLength(40);
            RuleFor(r => r.Email).MaximumLength(254).EmailAddress().When(r => !string.IsNullOrWhiteSpace(r.Email));
            RuleFor(r => r.BirthDate).BirthDate();
            RuleFor(r => r.Gender).Gender();
            RuleFor(r => r.DocumentId).MaximumLength(64);
            RuleFor(r => r.Notes).MaximumLength(4000);
            RuleFor(r => r.LookupHash).LookupHash();
            RuleFor(r => r.EncryptedData).Jwe();
        }
    }

    private const string Sql = """
        insert into patients (id, clinic_id, full_name, phone, email, birth_date, gender, document_id, notes,
                              lookup_hash, encrypted_data)
        values (@Id, @ClinicId, @FullName, @Phone, @Email, @BirthDate, @Gender, @DocumentId, @Notes,
                @LookupHash, @EncryptedData)
        returning id, full_name, phone, email::text as email, birth_date, gender, document_id, notes, blocked,
                  blocked_reason, lookup_hash, encrypted_data, created_at
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/patients")
            .MapPost("/", Handle)
            .WithName(nameof(RegisterPatient))
            .WithSummary("Register a patient")
            .ProducesErrors(StatusCodes.Status409Conflict);

    private static async Task<Results<Created<Response>, ApiProblem>> Handle(
        Request request, Tenant tenant, Validator validator, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        var (phone, problem) = await ClinicRules.NormalizePhoneAsync(tenant, request.Phone.TrimToNull(), ct);
        if (problem is not null)
        {
            return problem;
        }

        var values = new
        {
            Id = Guid.CreateVersion7(),
            tenant.ClinicId,
            FullName = request.FullName!.Trim(),
            Phone = phone,
            Email = request.Email.TrimToNull(),
            request.BirthDate,
            Gender = request.Gender.TrimToNull(),
            DocumentId = request.DocumentId.TrimToNull(),
            Notes = request.Notes.TrimToNull(),
            LookupHash = request.LookupHash.TrimToNull(),
            EncryptedData = request.EncryptedData.TrimToNull(),
        };

        Response patient;
        try
        {
            patient = await tenant.QuerySingleAsync<Response>(Sql, values, ct);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            return PatientRules.Duplicate(e);
        }

        // Field names only: the audit log keeps no personal data.
        var given = new List<string> { "fullName" };
        AddIfGiven(given, "phone", values.Phone);
        AddIfGiven(given, "email", values.Email);
        AddIfGiven(given, "birthDate", values.BirthDate);
        AddIfGiven(given, "gender", values.Gender);
        AddIfGiven(given, "documentId", values.DocumentId);
        AddIfGiven(given, "notes", values.Notes);
        AddIfGiven(given, "lookupHash", values.LookupHash);
        AddIfGiven(given, "encryptedData", values.EncryptedData);
        await tenant.AuditAsync("patient.create", "patient", patient.Id, new { fields = given }, ct);
        return TypedResults.Created($"/api/patients/{patient.Id}", patient);
    }

    private static void AddIfGiven(List<string> fields, string name, object? value)
    {
        if (value is not null)
        {
            fields.Add(name);
        }
    }

    public sealed record Response(Guid Id, string FullName, string? Phone, string? Email, DateOnly? BirthDate, string? Gender,
        string? DocumentId, string? Notes, bool Blocked, string? BlockedReason, string? LookupHash, string? EncryptedData,
        DateTimeOffset CreatedAt);
}
