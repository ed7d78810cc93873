using FluentMigrator;

namespace ClinicFlow.Migrations;

/// <summary>
/// Patient search as the app's role runs it. Row-level security lets only leakproof operators become
/// index conditions ahead of the policy, and LIKE is not one, so the trigram index never answered a
/// search made through a tenant or system connection (only a superuser, who bypasses the policy,
/// could use it): the planner read the clinic's rows through a b-tree on clinic_id and filtered
/// every one on its heap page. The search now walks the clinic's live patients in id order on an
/// index that holds everything its filters read, an index-only scan that stops at a page of hits;
/// the trigram index, which every insert and update of a patient paid for, goes.
/// </summary>
[Migration(2026_11_29_18_10, "Patient search: an id-ordered covering index for the walk; the trigram index no tenant query could use goes")]
public sealed class PatientSearchWalk : ForwardOnlyMigration
{
    public override void Up() => Execute.Sql("""
        create index ix_patients_clinic_search on patients (clinic_id, id) include (blocked, search_text)
            where erased_at is null;
        drop index ix_patients_search;
        """);
}
