redis "cache" {
  runtime = "executable"
}

executable "worker" {
  command    = "./worker"
  env        = { CACHE = redis.cache.uri }
  references = [redis.cache]
}
