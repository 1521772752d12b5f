// placeholder: report/run_record (to be written)
