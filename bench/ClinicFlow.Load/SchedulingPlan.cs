using System.Text.Json;

namespace ClinicFlow.Load;

/// <summary>
/// What bench/scheduling.sh generated and the scheduling scenario asks for, read from the JSON file
/// given with --plan. Instants are absolute (UTC); the script computed them in each clinic's zone.
/// </summary>
internal sealed record SchedulingPlan(
    string Token,
    Guid PatientId,
    Guid AppointmentId,
    IReadOnlyList<TimeWindow> Days,
    int DayItems,
    IReadOnlyList<Guid> AvailabilityDoctors,
    TimeWindow Week,
    int AvailabilityMinutes,
    string? IcsPath,
    int IcsEvents,
    BookingPlan Booking)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static SchedulingPlan Load(string path)
    {
        var plan = JsonSerializer.Deserialize<SchedulingPlan>(File.ReadAllText(path), Json)
            ?? throw new InvalidDataException($"{path}: empty plan");
        if (string.IsNullOrEmpty(plan.Token) || plan.Days is not { Count: > 0 } || plan.AvailabilityDoctors is not { Count: > 0 }
            || plan.Booking is null || plan.Booking.Doctors is not { Count: > 0 } || plan.Booking.Patients is not { Count: > 0 })
        {
            throw new InvalidDataException($"{path}: the plan lacks a token, days, doctors or the booking set-up");
        }

        return plan;
    }
}

internal sealed record TimeWindow(DateTimeOffset From, DateTimeOffset To);

/// <summary>
/// Concurrent bookings with a known share of conflicts. Request n belongs to block n / 10; of its
/// ten requests, two ask for a slot that the database already holds an appointment in (inserted by
/// the script: 5 minutes long, starting 5 minutes into the slot, so the overlap is partial), two ask
/// for the same free slot (consecutive requests, so different workers send them at about the same
/// time: one wins, the other must get 409 from the exclusion constraint), and six ask for free slots
/// of their own. So 3 of 10 answers are 409 APPOINTMENT_CONFLICT by construction, 7 of 10 are 201.
/// Each block uses 9 slots; slot s is doctor s mod D at the (s div D)-th slot of the doctors' hours,
/// counted from <see cref="Start"/> in steps of <see cref="SlotMinutes"/>, <see cref="SlotsPerDay"/>
/// a day (the script mirrors this numbering when it inserts the taken slots).
/// </summary>
internal sealed record BookingPlan(
    string Token,
    IReadOnlyList<Guid> Doctors,
    IReadOnlyList<Guid> Patients,
    DateTimeOffset Start,
    int SlotMinutes,
    int SlotsPerDay,
    int Capacity)
{
    public const int BlockSize = 10;
    public const int SlotsPerBlock = 9;
    public const double ExpectedConflictShare = 0.3;

    /// <summary>The slot that request <paramref name="n"/> asks for.</summary>
    public static long SlotOf(long n)
    {
        var (block, r) = (n / BlockSize, n % BlockSize);
        // r 0, 1: taken in the database; r 2, 3: the same free slot twice; r 4-9: free slots 3-8.
        return (block * SlotsPerBlock) + (r < 2 ? r : r < 4 ? 2 : r - 1);
    }

    public (Guid Doctor, Guid Patient, DateTimeOffset StartsAt) Slot(long slot)
    {
        var doctor = Doctors[(int)(slot % Doctors.Count)];
        var index = slot / Doctors.Count;
        var minutes = (index / SlotsPerDay * 24 * 60) + (index % SlotsPerDay * SlotMinutes);
        // Doctors at the same time get different patients, so only the doctor's calendar can conflict.
        return (doctor, Patients[(int)(slot % Patients.Count)], Start.AddMinutes(minutes));
    }
}
