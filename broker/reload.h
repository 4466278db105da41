/*
 * SIGHUP: read the configuration file and the policy file again and put
 * what can change while running in force, without dropping a client.
 */
#pragma once

struct broker;

/*
 * All or nothing: if the file or the policy it names is wrong, the
 * running configuration stays and the log says why. Settings that need a
 * restart (socket, mode, group, max_frame, retain_file, dgram, ready_fd)
 * keep their running value, each reported in the log.
 */
void reload_run(struct broker *b);
