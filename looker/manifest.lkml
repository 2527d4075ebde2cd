# Set these to the project and dataset Terraform created (terraform output).
constant: BQ_PROJECT {
  value: "my-adclick-project"
}

constant: BQ_DATASET {
  value: "adclick"
}
