using FluentMigrator;

namespace ClinicFlow.Migrations;

/// <summary>
/// A photo's consent form must be a form of the same clinic and the same patient: the composite key
/// says so in the schema, not only in the slice. Erasing a patient deletes their unsent forms; a photo
/// that named one keeps its consent status and loses only the link (set null on that column alone).
/// Rows written before this change that name no such form are unlinked first.
/// </summary>
[Migration(2026_11_29_16_00, "photos.consent_form_id: a form of the photo's own patient")]
public sealed class PhotoConsentForm : ForwardOnlyMigration
{
    public override void Up() => Execute.Sql("""
        alter table consent_forms add constraint ux_consent_forms_clinic_patient_id unique (clinic_id, patient_id, id);

        update photos ph set consent_form_id = null
         where consent_form_id is not null
           and not exists (select from consent_forms f
                            where f.clinic_id = ph.clinic_id and f.patient_id = ph.patient_id and f.id = ph.consent_form_id);

        alter table photos add constraint fk_photos_consent_form
            foreign key (clinic_id, patient_id, consent_form_id) references consent_forms (clinic_id, patient_id, id)
            on delete set null (consent_form_id);
        """);
}
