kafka "events" {}
