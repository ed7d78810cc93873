using Carter;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Clinics;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace ClinicFlow.Slices.Patients;

/// <summary>PATCH /api/patients/{id}: any member of the clinic changes a patient; null keeps a field, "" clears an optional one.</summary>
public sealed class UpdatePatient : ICarterModule
{
    public sealed record Request(string? FullName, string? Phone, string? Email, DateOnly? BirthDate, string? Gender,
        string? DocumentId, string? Notes, string? LookupHash, string? EncryptedData);

    public sealed class Validator : AbstractValidator<Request>
    {
        public Validator()
        {
            RuleFor(r => r.FullName).NotEmpty().MaximumLength(200).When(r => r.FullName is not null);
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

    private const string TargetSql = """
        select id, full_name, phone, email::text as email, birth_date, gender, document_id, notes, blocked,
               blocked_reason, lookup_hash, encrypted_data, created_at
        from patients
        where clinic_id = @ClinicId and id = @Id and erased_at is null
        for update
        """;

    private const string UpdateSql = """
        update patients
           set full_name = @FullName, phone = @Phone, email = @Email, birth_date = @BirthDate, gender = @Gender,
               document_id = @DocumentId, notes = @Notes, lookup_hash = @LookupHash, encrypted_data = @EncryptedData,
               updated_at = now()
         where clinic_id = @ClinicId and id = @Id and erased_at is null
        returning id, full_name, phone, email::text as email, birth_date, gender, document_id, notes, blocked,
                  blocked_reason, lookup_hash, encrypted_data, created_at
        """;

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapTenantGroup("/patients")
            .MapPatch("/{id:guid}", Handle)
            .WithName(nameof(UpdatePatient))
            .WithSummary("Change a patient")
            .ProducesErrors(StatusCodes.Status409Conflict);

    private static async Task<Results<Ok<Response>, ApiProblem>> Handle(
        Guid id, Request request, Tenant tenant, Validator validator, CancellationToken ct)
    {
        var validation = await validator.ValidateAsync(request, ct);
        if (!validation.IsValid)
        {
            return ApiProblem.Validation(validation);
        }

        var current = await tenant.QuerySingleOrDefaultAsync<Response>(TargetSql, new { tenant.ClinicId, Id = id }, ct);
        if (current is null)
        {
            return ApiProblem.NotFound();
        }

        var phone = current.Phone;
        if (request.Phone is not null)
        {
            (phone, var problem) = await ClinicRules.NormalizePhoneAsync(tenant, request.Phone.TrimToNull(), ct);
            if (problem is not null)
            {
                return problem;
            }
        }

        var next = current with
        {
            FullName = request.FullName?.Trim() ?? current.FullName,
            Phone = phone,
            Email = Next(request.Email, current.Email),
            BirthDate = request.BirthDate ?? current.BirthDate,
            Gender = Next(request.Gender, current.Gender),
            DocumentId = Next(request.DocumentId, current.DocumentId),
            Notes = Next(request.Notes, current.Notes),
            LookupHash = Next(request.LookupHash, current.LookupHash),
            EncryptedData = Next(request.EncryptedData, current.EncryptedData),
        };

        // Field names only: the audit log keeps no personal data.
        var changed = new List<string>();
        Compare(changed, "fullName", current.FullName, next.FullName);
        Compare(changed, "phone", current.Phone, next.Phone);
        Compare(changed, "email", current.Email, next.Email);
        Compare(changed, "birthDate", current.BirthDate, next.BirthDate);
        Compare(changed, "gender", current.Gender, next.Gender);
        Compare(changed, "documentId", current.DocumentId, next.DocumentId);
        Compare(changed, "notes", current.Notes, next.Notes);
        Compare(changed, "lookupHash", current.LookupHash, next.LookupHash);
        Compare(changed, "encryptedData", current.EncryptedData, next.EncryptedData);
        if (changed.Count == 0)
        {
            return TypedResults.Ok(current);
        }

        Response patient;
        try
        {
            patient = await tenant.QuerySingleAsync<Response>(UpdateSql, new
            {
                tenant.ClinicId,
                Id = id,
                next.FullName,
                next.Phone,
                next.Email,
                next.BirthDate,
                next.Gender,
                next.DocumentId,
                next.Notes,
                next.LookupHash,
                next.EncryptedData,
            }, ct);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            return PatientRules.Duplicate(e);
        }

        await tenant.AuditAsync("patient.update", "patient", id, new { fields = changed }, ct);
        return TypedResults.Ok(patient);
    }

    private static string? Next(string? given, string? current) => given is null ? current : given.TrimToNull();

    private static void Compare<T>(List<string> changed, string name, T before, T after)
    {
        if (!EqualityComparer<T>.Default.Equals(before, after))
        {
            changed.Add(name);
        }
    }

    public sealed record Response(Guid Id, string FullName, string? Phone, string? Email, DateOnly? BirthDate, string? Gender,
        string? DocumentId, string? Notes, bool Blocked, string? BlockedReason, string? LookupHash, string? EncryptedData,
        DateTimeOffset CreatedAt);
}
