select (select count(*) from {{ ref('silver_owned_contacts') }}) as contacts,
       (select count(*) from {{ ref('silver_owned_leads') }}) as leads
