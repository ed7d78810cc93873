using System.Text.RegularExpressions;
using ClinicFlow.Infrastructure;
using ClinicFlow.Slices.Clinics;
using FluentValidation;
using Npgsql;

namespace ClinicFlow.Slices.Patients;

/// <summary>Rules every patient write shares: field limits, the lookup hash and JWE formats, phone normalisation, duplicates.</summary>
public static partial class PatientRules
{
    public static readonly string[] Genders = ["female", "male", "other", "unknown"];

    public const int MaxEncryptedDataChars = 512 * 1024;

    /// <summary>The earliest birth date accepted (docs/decisions.md).</summary>
    public static readonly DateOnly EarliestBirthDate = new(1900, 1, 1);

    /// <summary>The latest date it already is somewhere on Earth (UTC+14): a birth date after it is in the future.</summary>
    public static DateOnly LatestBirthDate() => DateOnly.FromDateTime(DateTime.UtcNow.AddHours(14));

    [GeneratedRegex("^[A-Za-z0-9_=+/-]{1,128}$")]
    private static partial Regex LookupHashFormat();

    // JWE compact serialization: header.encryptedKey.iv.ciphertext.tag, base64url; the key is empty with "dir".
    [GeneratedRegex("^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]*\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$")]
    private static partial Regex JweCompactFormat();

    public static bool IsLookupHash(string? value) => value is not null && LookupHashFormat().IsMatch(value);

    public static bool IsJwe(string? value) => value is { Length: <= MaxEncryptedDataChars } && JweCompactFormat().IsMatch(value);

    public static IRuleBuilderOptions<T, string?> LookupHash<T>(this IRuleBuilder<T, string?> rule) =>
        rule.Must(h => string.IsNullOrEmpty(h) || IsLookupHash(h.Trim()))
            .WithMessage("Use up to 128 characters of A-Z, a-z, 0-9, _ - = + /.");

    public static IRuleBuilderOptions<T, string?> Jwe<T>(this IRuleBuilder<T, string?> rule) =>
        rule.Must(v => string.IsNullOrEmpty(v) || IsJwe(v.Trim()))
            .WithMessage($"Use a JWE compact serialization (five base64url parts separated by dots) of at most {MaxEncryptedDataChars} characters.");

    public static IRuleBuilderOptions<T, string?> Gender<T>(this IRuleBuilder<T, string?> rule) =>
        rule.Must(g => string.IsNullOrEmpty(g) || Genders.Contains(g))
            .WithMessage("Use female, male, other or unknown.");

    public static IRuleBuilderOptions<T, DateOnly?> BirthDate<T>(this IRuleBuilder<T, DateOnly?> rule) =>
        rule.Must(d => d is null || (d >= EarliestBirthDate && d <= LatestBirthDate()))
            .WithMessage("The birth date cannot be in the future or before 1900.");

    /// <summary>A unique violation of the patients table as the 409 the client can act on.</summary>
    public static ApiProblem Duplicate(PostgresException e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return e.ConstraintName == "ux_patients_lookup_hash"
            ? ApiProblem.Conflict(ErrorCodes.AlreadyExists, new(
                "A patient with this lookup hash already exists.",
                "Ya existe un paciente con este hash de búsqueda.",
                "Es gibt bereits einen Patienten mit diesem Lookup-Hash."))
            : ApiProblem.Conflict(ErrorCodes.AlreadyExists, new(
                "A patient with this document id already exists.",
                "Ya existe un paciente con este documento.",
                "Es gibt bereits einen Patienten mit dieser Ausweisnummer."));
    }
}
